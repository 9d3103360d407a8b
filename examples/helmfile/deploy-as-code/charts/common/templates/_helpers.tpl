{{/*
common.values returns the chart's values with the environment overrides
keyed by the chart's name (DIGIT's env file shape) merged on top.
*/}}
{{- define "common.values" -}}
{{- $over := index .Values .Chart.Name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy (omit .Values .Chart.Name)) $over) -}}
{{- end -}}

{{- define "common.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.labels" -}}
app.kubernetes.io/name: {{ include "common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
