{{/* Names. The scaler Service is the fullname itself: scalerAddress <fullname>.<ns>.svc:9090. */}}
{{- define "ballast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ballast.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ballast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ballast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ballast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ballast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ballast.labels" -}}
{{ include "ballast.selectorLabels" . }}
app.kubernetes.io/part-of: ballast
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ballast.webhookService" -}}{{ include "ballast.fullname" . }}-webhook{{- end -}}
{{- define "ballast.webhookSecret" -}}{{ include "ballast.fullname" . }}-webhook-tls{{- end -}}
{{- define "ballast.sessionsSecret" -}}
{{- default (printf "%s-sessions" (include "ballast.fullname" .)) .Values.sessions.tokens.existingSecret -}}
{{- end -}}

{{- define "ballast.peersSecret" -}}
{{- default (printf "%s-peers" (include "ballast.fullname" .)) .Values.sessions.peers.existingSecret -}}
{{- end -}}

{{/* Peers share session counters when sessions run with peers on. */}}
{{- define "ballast.peers" -}}
{{- and .Values.components.sessions .Values.sessions.peers.enabled -}}
{{- end -}}

{{/* "true" when the peers find each other through the Kubernetes API (the peers Service's
EndpointSlices, --peers-service) rather than DNS (--peers-dns). */}}
{{- define "ballast.peersFromApi" -}}
{{- if eq (include "ballast.peers" .) "true" -}}
{{- if eq .Values.sessions.peers.discovery "endpointSlices" -}}true
{{- else if ne .Values.sessions.peers.discovery "dns" -}}
{{- fail "sessions.peers.discovery must be endpointSlices or dns" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" when the pod calls the Kubernetes API: a reconciler, or peers found through it. */}}
{{- define "ballast.kubeApi" -}}
{{- if or (include "ballast.reconcilers" .) (include "ballast.peersFromApi" .) -}}true{{- end -}}
{{- end -}}

{{/* The --components value: the switched-on components, always named (an empty flag would
mean "all that can run", which depends on the pod's environment). */}}
{{- define "ballast.components" -}}
{{- $on := list -}}
{{- range $name := list "scaler" "sessions" "admission" "guard" "nodepool" -}}
{{- if index $.Values.components $name -}}{{- $on = append $on $name -}}{{- end -}}
{{- end -}}
{{- if not $on -}}{{- fail "components: switch at least one on (scaler, sessions, admission, guard, nodepool)" -}}{{- end -}}
{{- join "," $on -}}
{{- end -}}

{{/* "true" when a component that calls the Kubernetes API (a reconciler) is on: it needs the
service account token, the Lease Role and Events: the PDB guard and the node-pool reconciler. */}}
{{- define "ballast.reconcilers" -}}
{{- if or .Values.components.guard .Values.components.nodepool -}}true{{- end -}}
{{- end -}}

{{/* Namespaces the webhooks never see. */}}
{{- define "ballast.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range (append .Values.admission.excludeNamespaces .Release.Namespace | uniq) }}
      - {{ . | quote }}
      {{- end }}
  {{- with .Values.admission.optOutLabel }}
  - key: {{ .key | quote }}
    operator: NotIn
    values: [{{ .value | quote }}]
  {{- end }}
{{- end -}}

{{/* The auth profiles: mounted file names per referenced Secret key. */}}
{{- define "ballast.authDir" -}}/etc/ballast/auth/{{ . }}{{- end -}}

{{/* ballast.yaml: settings with no flag, today the auth profiles (file paths into the mounts). */}}
{{- define "ballast.configFile" -}}
log-level: {{ .Values.logLevel }}
{{- if .Values.auth }}
auth:
{{- range $name, $p := .Values.auth }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "auth.%s: profile names must be DNS labels (lowercase letters, digits, '-')" $name) }}
{{- end }}
{{- $dir := include "ballast.authDir" $name }}
  {{ $name }}:
    {{- with $p.sasl }}
    sasl:
      mechanism: {{ required (printf "auth.%s.sasl.mechanism is required" $name) .mechanism | quote }}
      username: {{ required (printf "auth.%s.sasl.username is required" $name) .username | quote }}
      passwordFile: {{ printf "%s/sasl-password" $dir }}
      {{- if not .passwordSecret }}{{ fail (printf "auth.%s.sasl.passwordSecret is required" $name) }}{{ end }}
    {{- end }}
    {{- with $p.basic }}
    basic:
      username: {{ required (printf "auth.%s.basic.username is required" $name) .username | quote }}
      passwordFile: {{ printf "%s/basic-password" $dir }}
      {{- if not .passwordSecret }}{{ fail (printf "auth.%s.basic.passwordSecret is required" $name) }}{{ end }}
    {{- end }}
    {{- if $p.bearerTokenSecret }}
    bearerTokenFile: {{ printf "%s/bearer-token" $dir }}
    {{- end }}
    {{- with $p.tls }}
    tls:
      enabled: {{ if hasKey . "enabled" }}{{ .enabled }}{{ else }}true{{ end }}
      insecureSkipVerify: {{ default false .insecureSkipVerify }}
      {{- if .caSecret }}
      caFile: {{ printf "%s/ca.crt" $dir }}
      {{- end }}
      {{- if .certSecret }}
      certFile: {{ printf "%s/tls.crt" $dir }}
      {{- end }}
      {{- if .keySecret }}
      keyFile: {{ printf "%s/tls.key" $dir }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One projected volume per auth profile: Secret key → file name used in ballast.yaml. */}}
{{- define "ballast.authVolumes" -}}
{{- range $name, $p := .Values.auth }}
- name: auth-{{ $name }}
  projected:
    defaultMode: 0440
    sources:
      {{- $refs := list }}
      {{- with $p.sasl }}{{ $refs = append $refs (list .passwordSecret "sasl-password") }}{{ end }}
      {{- with $p.basic }}{{ $refs = append $refs (list .passwordSecret "basic-password") }}{{ end }}
      {{- with $p.bearerTokenSecret }}{{ $refs = append $refs (list . "bearer-token") }}{{ end }}
      {{- with $p.tls }}
      {{- with .caSecret }}{{ $refs = append $refs (list . "ca.crt") }}{{ end }}
      {{- with .certSecret }}{{ $refs = append $refs (list . "tls.crt") }}{{ end }}
      {{- with .keySecret }}{{ $refs = append $refs (list . "tls.key") }}{{ end }}
      {{- end }}
      {{- if not $refs }}{{ fail (printf "auth.%s references no Secret (sasl, basic, bearerTokenSecret or tls)" $name) }}{{ end }}
      {{- range $refs }}
      {{- $ref := index . 0 }}
      - secret:
          name: {{ required (printf "auth.%s: a Secret reference needs name" $name) $ref.name | quote }}
          items:
            - key: {{ required (printf "auth.%s: a Secret reference needs key" $name) $ref.key | quote }}
              path: {{ index . 1 }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* The policy with scalerAddresses defaulted to this release's scaler Service. */}}
{{- define "ballast.policyFile" -}}
{{- $policy := deepCopy .Values.policy -}}
{{- if not $policy.scalerAddresses -}}
{{- $svc := include "ballast.fullname" . -}}
{{- $port := int .Values.scaler.port -}}
{{- $_ := set $policy "scalerAddresses" (list (printf "%s.%s.svc:%d" $svc .Release.Namespace $port) (printf "%s.%s.svc.cluster.local:%d" $svc .Release.Namespace $port) (printf "%s.%s:%d" $svc .Release.Namespace $port)) -}}
{{- end -}}
{{- /* ballast's own pods use platform-infra-critical. */ -}}
{{- $_ := set $policy "privilegedNamespaces" (append (default (list) $policy.privilegedNamespaces) .Release.Namespace | uniq) -}}
{{- toYaml $policy -}}
{{- end -}}

{{/* A webhook clientConfig: dict svc, ns, path, caBundle (empty in certManager mode). */}}
{{- define "ballast.webhookClient" -}}
{{- if .url -}}
url: {{ printf "%s%s" (trimSuffix "/" .url) .path | quote }}
{{- else -}}
service:
  name: {{ .svc }}
  namespace: {{ .ns }}
  path: {{ .path }}
  port: 443
{{- end }}
{{- with .caBundle }}
caBundle: {{ . }}
{{- end }}
{{- end -}}
