{{/*
Naming and labelling helpers: every template takes its names and labels from here.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "driftwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: fullnameOverride, else release name + chart name (once, when the
release name already contains it). Truncated to 63 characters (DNS-1123 label).
*/}}
{{- define "driftwarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "driftwarden.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The operator's metrics Service (also the `job` label a ServiceMonitor gives its target). */}}
{{- define "driftwarden.metricsServiceName" -}}
{{- printf "%s-metrics" (include "driftwarden.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The service account the operator runs as. */}}
{{- define "driftwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "driftwarden.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Labels of every object: `include "driftwarden.labels" (dict "context" $ "component" "operator")`.
*/}}
{{- define "driftwarden.labels" -}}
{{- $ctx := .context -}}
helm.sh/chart: {{ include "driftwarden.chart" $ctx }}
app.kubernetes.io/name: {{ include "driftwarden.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: driftwarden
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of the operator pods. The component is part of them: the analysis Jobs'
pods also carry app.kubernetes.io/name=driftwarden and must never match.
*/}}
{{- define "driftwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "driftwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The image reference: repository:tag, or repository@digest when a digest is set. */}}
{{- define "driftwarden.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the operator takes part in kopf peering. */}}
{{- define "driftwarden.peeringEnabled" -}}
{{- if or .Values.peering.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* The name of the kopf peering object. */}}
{{- define "driftwarden.peeringName" -}}
{{- default (include "driftwarden.fullname" .) .Values.peering.name }}
{{- end }}

{{/* The `job` label of the operator's scrape target, for DriftwardenOperatorDown. */}}
{{- define "driftwarden.scrapeJob" -}}
{{- default (include "driftwarden.metricsServiceName" .) .Values.prometheusRule.operatorDown.job }}
{{- end }}

{{/* The runbook URL of one alert: (dict "context" $ "alert" "DriftwardenDriftDetected"). */}}
{{- define "driftwarden.runbookUrl" -}}
{{- printf "%s#%s" .context.Values.prometheusRule.runbookBaseUrl (lower .alert) }}
{{- end }}
