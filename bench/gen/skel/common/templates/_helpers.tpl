{{/*
common.values merges the environment file's section named after the service
(.Values.name, else the chart name) over the chart's values, as DIGIT's
common chart does, and returns the result as YAML.
*/}}
{{- define "common.values" -}}
{{- $name := default .Chart.Name .Values.name -}}
{{- $section := index .Values $name | default dict -}}
{{- $merged := mustMergeOverwrite (deepCopy .Values) $section -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "common.name" -}}
{{- default .Chart.Name .Values.name -}}
{{- end -}}

{{- define "common.labels" -}}
app: {{ include "common.name" . }}
{{- with .Values.labels }}
{{- with .group }}
group: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* common.image renders registry/repository:tag; the tag is required. */}}
{{- define "common.image" -}}
{{- $img := .image -}}
{{- printf "%s/%s:%s" .registry $img.repository (required "image tag is required" $img.tag | toString) -}}
{{- end -}}
