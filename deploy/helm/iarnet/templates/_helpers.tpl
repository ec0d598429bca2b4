{{/*
Names. The fullname is cut to 52 characters: StatefulSet pods are named <fullname>-<ordinal> and
the controller-revision-hash label adds 11 more; the pod name is also the node id (a DNS label).
*/}}
{{- define "iarnet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "iarnet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Headless Service through which the replicas reach each other (stable per-pod DNS names). */}}
{{- define "iarnet.peersName" -}}
{{- printf "%s-peers" (include "iarnet.fullname" .) -}}
{{- end -}}

{{- define "iarnet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "iarnet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "iarnet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "iarnet.labels" -}}
helm.sh/chart: {{ include "iarnet.chart" . }}
{{ include "iarnet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "iarnet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "iarnet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "iarnet.secretName" -}}
{{- default (include "iarnet.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "iarnet.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) -}}
{{- end -}}

{{/*
A Kubernetes quantity as a string. YAML numbers arrive as float64: whole numbers are printed
without an exponent (200000000000, not 2e+11), fractions as they are (0.5).
*/}}
{{- define "iarnet.quantity" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{ int64 . }}{{- else -}}{{ toString . }}{{- end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* The seeds: every StatefulSet pod by its stable DNS name, then config.initialPeers. */}}
{{- define "iarnet.peerAddress" -}}
{{- $ := index . 0 -}}
{{- printf "%s-%d.%s.%s.svc.%s:%d" (include "iarnet.fullname" $) (index . 1) (include "iarnet.peersName" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.service.grpcPort) -}}
{{- end -}}

{{/*
The IARNet config file (README "Configuration"; keys checked by core/kernel/config.ts). Built as
a dict and printed with toYaml so that no value can break the YAML. Per-pod values (node_id,
advertise_addr) and secrets come from the environment, which takes precedence over the file.
*/}}
{{- define "iarnet.configFile" -}}
{{- range $k := list "mode" "data_dir" "listen_addr" "peer_listen_addr" "initial_peers" "node_id" "advertise_addr" -}}
{{- if hasKey $.Values.config.extra $k -}}
{{- fail (printf "config.extra.%s: the chart sets %s itself (use config.mode, service.port, service.grpcPort, config.initialPeers)" $k $k) -}}
{{- end -}}
{{- end -}}
{{- $peers := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $peers = append $peers (include "iarnet.peerAddress" (list $ $i)) -}}
{{- end -}}
{{- $peers = concat $peers .Values.config.initialPeers | uniq -}}
{{- $rl := .Values.config.resourceLimits -}}
{{- $limits := dict "cpu" (include "iarnet.quantity" $rl.cpu) "memory" (include "iarnet.quantity" $rl.memory) "gpu" (include "iarnet.quantity" $rl.gpu) -}}
{{- if $rl.storage -}}
{{- $_ := set $limits "storage" (include "iarnet.quantity" $rl.storage) -}}
{{- end -}}
{{- $cfg := dict
  "mode" .Values.config.mode
  "listen_addr" (printf ":%d" (int .Values.service.port))
  "peer_listen_addr" (printf ":%d" (int .Values.service.grpcPort))
  "data_dir" "/data"
  "initial_peers" $peers
  "resource_limits" $limits
  "logging" (dict "level" .Values.config.logLevel "format" "json" "output" "stdout")
  "discovery" (dict "enabled" true)
-}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.config.extra)) -}}
{{- end -}}
