{{/* Names and labels. */}}
{{- define "kap.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kap.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kap.labels" -}}
{{ include "kap.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kap.headless" -}}
{{- printf "%s-headless" (include "kap.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret holding the audit producer's SASL username and password. */}}
{{/* Node ids that get a port of their own: none with SNI routing (one port for all). */}}
{{- define "kap.brokerIds" -}}
{{- if not .Values.listeners.sni.enabled -}}{{- toJson .Values.listeners.brokerIds -}}{{- else -}}[]{{- end -}}
{{- end -}}

{{- define "kap.auditSecret" -}}
{{- if .Values.audit.sasl.existingSecret -}}
{{- .Values.audit.sasl.existingSecret -}}
{{- else -}}
{{- printf "%s-audit-credentials" (include "kap.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* config.yaml: the proxy's configuration, from the values (secrets come from the environment, never from here). */}}
{{- define "kap.config" -}}
{{- $v := .Values -}}
{{- $listen := dict "host" "0.0.0.0" "bootstrapPort" (int $v.listeners.bootstrapPort) "brokerPortBase" (int $v.listeners.brokerPortBase) "securityProtocol" $v.listeners.securityProtocol "proxyProtocol" (toString $v.listeners.proxyProtocol) "proxyProtocolTimeoutMs" (int $v.listeners.proxyProtocolTimeoutMs) -}}
{{- if $v.listeners.advertisedHost -}}{{- $_ := set $listen "advertisedHost" $v.listeners.advertisedHost -}}{{- end -}}
{{- if $v.listeners.tls.enabled -}}
{{- $tls := dict "cert" "/etc/kafka-audit-proxy/tls/tls.crt" "key" "/etc/kafka-audit-proxy/tls/tls.key" "requireClientCert" $v.listeners.tls.requireClientCert -}}
{{- if $v.listeners.tls.requireClientCert -}}{{- $_ := set $tls "ca" "/etc/kafka-audit-proxy/tls/ca.crt" -}}{{- end -}}
{{- $_ := set $listen "tls" $tls -}}
{{- end -}}
{{- if $v.listeners.sni.enabled -}}
{{- if not $v.listeners.tls.enabled -}}{{- fail "listeners.sni needs listeners.tls (the server name travels in the TLS handshake): set listeners.tls.enabled and listeners.tls.secretName" -}}{{- end -}}
{{- $_ := set $listen "sni" (dict "bootstrapHost" (required "listeners.sni.bootstrapHost is required with listeners.sni.enabled" $v.listeners.sni.bootstrapHost) "brokerHostPattern" (required "listeners.sni.brokerHostPattern is required with listeners.sni.enabled" $v.listeners.sni.brokerHostPattern)) -}}
{{- end -}}
{{- $upstream := dict "bootstrapServers" $v.upstream.bootstrapServers "connectTimeoutMs" (int $v.upstream.connectTimeoutMs) -}}
{{- if $v.upstream.tls.enabled -}}
{{- $utls := dict "ca" "/etc/kafka-audit-proxy/upstream-tls/ca.crt" "rejectUnauthorized" $v.upstream.tls.rejectUnauthorized -}}
{{- if $v.upstream.tls.servername -}}{{- $_ := set $utls "servername" $v.upstream.tls.servername -}}{{- end -}}
{{- if $v.upstream.tls.clientCertificate -}}{{- $_ := set $utls "cert" "/etc/kafka-audit-proxy/upstream-tls/tls.crt" -}}{{- $_ := set $utls "key" "/etc/kafka-audit-proxy/upstream-tls/tls.key" -}}{{- end -}}
{{- $_ := set $upstream "tls" $utls -}}
{{- end -}}
{{- $spool := dict "dir" "/var/lib/kafka-audit-proxy" "fsync" $v.spool.fsync "maxBytes" (int64 $v.spool.maxBytes) -}}
{{- $audit := dict "sink" $v.audit.sink "topic" $v.audit.topic "partitions" (int $v.audit.partitions) "replicationFactor" (int $v.audit.replicationFactor) "failMode" $v.audit.failMode "writeAhead" $v.audit.writeAhead "spool" $spool "rules" $v.audit.rules -}}
{{- if eq $v.audit.sink "file" -}}{{- $_ := set $audit "filePath" "/var/lib/kafka-audit-proxy/audit-events.jsonl" -}}{{- end -}}
{{- if $v.audit.brokers -}}{{- $_ := set $audit "brokers" $v.audit.brokers -}}{{- end -}}
{{- if $v.audit.sasl.mechanism -}}{{- $_ := set $audit "sasl" (dict "mechanism" $v.audit.sasl.mechanism) -}}{{- end -}}
{{- if $v.audit.tls.enabled -}}
{{- $atls := dict "ca" "/etc/kafka-audit-proxy/audit-tls/ca.crt" -}}
{{- if $v.audit.tls.servername -}}{{- $_ := set $atls "servername" $v.audit.tls.servername -}}{{- end -}}
{{- if $v.audit.tls.clientCertificate -}}{{- $_ := set $atls "cert" "/etc/kafka-audit-proxy/audit-tls/tls.crt" -}}{{- $_ := set $atls "key" "/etc/kafka-audit-proxy/audit-tls/tls.key" -}}{{- end -}}
{{- $_ := set $audit "tls" $atls -}}
{{- end -}}
{{- if $v.audit.checkpoint.existingSecret -}}
{{- $ckp := dict "privateKeyFile" "/etc/kafka-audit-proxy/checkpoint/checkpoint.key" -}}
{{- if $v.audit.checkpoint.topic -}}{{- $_ := set $ckp "topic" $v.audit.checkpoint.topic -}}{{- end -}}
{{- $_ := set $audit "checkpoint" $ckp -}}
{{- end -}}
{{- $config := dict "listen" $listen "upstream" $upstream "admin" (dict "enabled" true "host" "0.0.0.0" "port" (int $v.admin.port)) "shutdown" (dict "drainTimeoutMs" (int $v.drainTimeoutMs)) "log" (dict "level" $v.logLevel) "audit" $audit -}}
{{- toYaml (mustMergeOverwrite $config (deepCopy $v.config)) -}}
{{- end -}}
