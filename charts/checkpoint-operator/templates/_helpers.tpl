{{/*
Object names are fixed, not derived from the release name: the operator names its Jobs'
ServiceAccounts itself (checkpoint-operator-job, -cleanup, -sweep), and its ClusterRoles are
cluster-wide, so one release per cluster is what works. They are manifests/'s names.
*/}}

{{/* Labels only Helm adds (the kustomize install has none of them). */}}
{{- define "checkpoint-operator.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Labels on every object: manifests/default sets the first two too. */}}
{{- define "checkpoint-operator.labels" -}}
app.kubernetes.io/name: checkpoint-operator
app.kubernetes.io/part-of: checkpoint-operator
{{ include "checkpoint-operator.helmLabels" . }}
{{- end }}

{{/* The dispatcher's pods: the selector of the Deployment, Service, PDB and anti-affinity. */}}
{{- define "checkpoint-operator.selectorLabels" -}}
control-plane: controller-manager
{{- end }}

{{/* The image as the dispatcher's container (and so every Job) runs it. */}}
{{- define "checkpoint-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* Where Jobs, CronJobs and their ServiceAccounts live. */}}
{{- define "checkpoint-operator.jobNamespace" -}}
{{ .Values.jobNamespace | default .Release.Namespace }}
{{- end }}

{{/* imagePullSecrets for a ServiceAccount (pods run as it get them). */}}
{{- define "checkpoint-operator.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
One variable of the manager container, only when its value is set: an unset setting leaves the
operator's built-in default (docs/install.md, Configuration). 0 and false are values; nil and ""
are not. Usage: include "checkpoint-operator.env" (list "NAME" value)
*/}}
{{- define "checkpoint-operator.env" -}}
{{- $name := index . 0 -}}
{{- $value := index . 1 -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
