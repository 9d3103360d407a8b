{{/* common.name is the service name: .Values.name, else the chart name. */}}
{{- define "common.name" -}}
{{- default .Chart.Name .Values.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "common.labels" -}}
app: {{ include "common.name" . }}
app.kubernetes.io/name: {{ include "common.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "common.image" -}}
{{ .Values.global.containerRegistry | default "egovio" }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
