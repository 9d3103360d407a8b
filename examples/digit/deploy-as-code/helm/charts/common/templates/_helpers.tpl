{{/*
common.values merges the environment file's section named after the instance
(.Values.name, else the chart name) over the chart's values, over this chart's
defaults (values.yaml, which Helm gives the service chart as .Values.common),
and returns the result.
*/}}
{{- define "common.values" -}}
{{- $name := default .Chart.Name .Values.name -}}
{{- $section := index .Values $name | default dict -}}
{{- $defaults := .Values.common | default dict -}}
{{- $merged := mustMergeOverwrite (deepCopy $defaults) (deepCopy .Values) $section -}}
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
{{- if contains "/" $img.repository -}}
{{- printf "%s:%s" $img.repository (required "image tag is required" $img.tag | toString) -}}
{{- else -}}
{{- printf "%s/%s:%s" .registry $img.repository (required "image tag is required" $img.tag | toString) -}}
{{- end -}}
{{- end -}}
