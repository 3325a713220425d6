{{/*
Names, labels and shared pieces of the ec-ha-crux chart.

Every object is named "<release>-<role>" (never truncated or de-duplicated): the lab runner
derives pod and service names from the release name exactly that way, so the release name
must follow the lab's own rule for names (checked by "ec-ha-crux.validate").
*/}}

{{- define "ec-ha-crux.name" -}}ec-ha-crux{{- end -}}

{{/* Fails rendering unless the release name is one the lab accepts (1-30 characters,
lowercase letters, digits and '-', starting with a letter, not ending with '-'). */}}
{{- define "ec-ha-crux.validate" -}}
{{- if not (regexMatch "^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$" .Release.Name) -}}
{{- fail (printf "release name %q is not one the lab accepts: use 1 to 30 lowercase letters, digits or '-', starting with a letter and not ending with '-'" .Release.Name) -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "ec-ha-crux.labels" -}}
app.kubernetes.io/name: {{ include "ec-ha-crux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: egeria-ha-lab
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels of one component's objects: call with (dict "ctx" $ "component" "connector"). */}}
{{- define "ec-ha-crux.componentLabels" -}}
{{ include "ec-ha-crux.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector of one component's pods. The runner selects pods by instance + component. */}}
{{- define "ec-ha-crux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ec-ha-crux.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* "repository:tag" of an image value, refusing an empty or moving tag: every image is
`kind load`ed from a pinned tag. Call with (dict "image" .Values.x.image "what" "x.image"). */}}
{{- define "ec-ha-crux.image" -}}
{{- $tag := toString (required (printf "%s.tag is required (a pinned image tag)" .what) .image.tag) -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "%s.tag must be a pinned version, not \"latest\"" .what) -}}
{{- end -}}
{{- printf "%s:%s" (required (printf "%s.repository is required" .what) .image.repository) $tag -}}
{{- end -}}

{{/* The Kafka bootstrap servers every Crux node is pointed at. */}}
{{- define "ec-ha-crux.goldenStoreBootstrap" -}}
{{- if .Values.kafka.external.bootstrapServers -}}
{{- .Values.kafka.external.bootstrapServers -}}
{{- else -}}
{{- printf "%s-kafka:9092" .Release.Name -}}
{{- end -}}
{{- end -}}

{{/* File name of the connector jar. */}}
{{- define "ec-ha-crux.connectorJar" -}}
{{- $c := .Values.crux.connector -}}
{{- printf "%s-%s-%s.jar" $c.artifactId $c.version $c.classifier -}}
{{- end -}}

{{/* Where the Egeria platforms find the connector jar (an emptyDir shared with the init
container). */}}
{{- define "ec-ha-crux.connectorDir" -}}/deployments/crux-connector{{- end -}}

{{/*
The init container that downloads the connector jar and verifies its checksum before the
platform starts: a jar that does not match never reaches the shared folder, and the pod stays
in Init. Rendering fails when the checksum value is missing or does not fit its algorithm.
*/}}
{{- define "ec-ha-crux.fetchConnector" -}}
{{- $c := .Values.crux.connector -}}
{{- $sum := required "crux.connector.checksum.value is required: set the real sha1 (or sha256, with crux.connector.checksum.algorithm=sha256) of the Crux connector jar; see charts/ec-ha-crux/README.md" $c.checksum.value -}}
{{- $algorithm := $c.checksum.algorithm -}}
{{- $length := ternary 40 64 (eq $algorithm "sha1") -}}
{{- if not (regexMatch (printf "^[0-9a-f]{%d}$" $length) $sum) -}}
{{- fail (printf "crux.connector.checksum.value must be %d lowercase hex digits for algorithm %s" $length $algorithm) -}}
{{- end -}}
- name: fetch-connector
  image: {{ include "ec-ha-crux.image" (dict "image" .Values.crux.fetchImage "what" "crux.fetchImage") | quote }}
  imagePullPolicy: IfNotPresent
  env:
    - name: CONNECTOR_URL
      value: {{ printf "%s/%s/%s/%s/%s" (trimSuffix "/" $c.repositoryUrl) (replace "." "/" $c.groupId) $c.artifactId $c.version (include "ec-ha-crux.connectorJar" .) | quote }}
    - name: CONNECTOR_JAR
      value: {{ include "ec-ha-crux.connectorJar" . | quote }}
    - name: CONNECTOR_CHECKSUM
      value: {{ $sum | quote }}
  command:
    - /bin/sh
    - -c
    - |
      set -eu
      cd {{ include "ec-ha-crux.connectorDir" . }}
      curl --fail --silent --show-error --location --retry 5 --retry-delay 2 \
        --output "$CONNECTOR_JAR.part" "$CONNECTOR_URL"
      # Two spaces between checksum and file: the format `{{ $algorithm }}sum -c` reads.
      echo "$CONNECTOR_CHECKSUM  $CONNECTOR_JAR.part" | {{ $algorithm }}sum -c -
      mv "$CONNECTOR_JAR.part" "$CONNECTOR_JAR"
  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
  volumeMounts:
    - name: crux-connector
      mountPath: {{ include "ec-ha-crux.connectorDir" . }}
{{- end -}}

{{/* Environment of an Egeria platform container. */}}
{{- define "ec-ha-crux.egeriaEnv" -}}
# Spring Boot's PropertiesLauncher: a comma-separated list,
# the image's own library folder first, then the connector's.
- name: LOADER_PATH
  value: {{ printf "%s,%s" .Values.egeria.libPath (include "ec-ha-crux.connectorDir" .) | quote }}
# Fewer glibc malloc arenas: resident memory stays near the heap.
- name: MALLOC_ARENA_MAX
  value: "2"
# The platforms call one another (the PTS calls the crux service) over the chart's
# self-signed certificates: the image's launcher then accepts them (upstream's setting).
- name: STRICT_SSL
  value: "false"
{{- end -}}

{{/* Anti-affinity spreading one component's pods over nodes. `preferred` still schedules
them all on one node; `required` (set by the lab on a cluster with a node for each) never
puts two on one node, so losing a node costs at most one. Call with the component dict. */}}
{{- define "ec-ha-crux.antiAffinity" -}}
podAntiAffinity:
{{- if eq .ctx.Values.scheduling.antiAffinity "required" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "ec-ha-crux.selectorLabels" . | nindent 10 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "ec-ha-crux.selectorLabels" . | nindent 12 }}
{{- end }}
{{- end -}}

{{/* A PodDisruptionBudget keeping a majority of one component's pods through voluntary
disruptions (a drain takes at most a minority). Call with (dict "ctx" $ "component" C
"name" N "replicas" R). */}}
{{- define "ec-ha-crux.majorityBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .ctx.Release.Name }}-{{ .name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "ec-ha-crux.componentLabels" . | nindent 4 }}
spec:
  minAvailable: {{ add1 (div (int .replicas) 2) }}
  selector:
    matchLabels:
      {{- include "ec-ha-crux.selectorLabels" . | nindent 6 }}
{{- end -}}
