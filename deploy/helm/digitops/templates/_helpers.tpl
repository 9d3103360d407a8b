{{- define "digitops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "digitops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "digitops.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "digitops.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "digitops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* digitops.apiTokenSecret is the Secret holding the API token, "" for none. */}}
{{- define "digitops.apiTokenSecret" -}}
{{- if .Values.apiToken.existingSecret -}}
{{- .Values.apiToken.existingSecret -}}
{{- else if .Values.apiToken.create -}}
{{- printf "%s-api-token" (include "digitops.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* digitops.historyConfigMap is the name of the sync history ConfigMap of
the environment named by the context, as daemon/history.ConfigMapName makes
it: lower case, runs of other characters than letters and digits made one
dash, cut to 37 characters, and 8 hex digits of the name's SHA-256. */}}
{{- define "digitops.historyConfigMap" -}}
{{- $part := regexReplaceAll "[^a-z0-9]+" (lower .) "-" | trimAll "-" | trunc 37 | trimSuffix "-" -}}
{{- $hash := sha256sum . | trunc 8 -}}
{{- if $part -}}
digitops-history-{{ $part }}-{{ $hash }}
{{- else -}}
digitops-history-{{ $hash }}
{{- end -}}
{{- end -}}
