/* decode_gke.h — GKE Cloud Logging entries as audit events (internal to
 * ingest/decode.c). */
#ifndef KAUDIT_DECODE_GKE_H
#define KAUDIT_DECODE_GKE_H

#include "base/jtok.h"
#include "base/buf.h"

/* Appends to out the audit.k8s.io/v1 Event JSON equivalent of the log entry
 * object `entry` (which has a k8s.io protoPayload). */
void	decode_gke(const struct jdoc *d, int entry, struct buf *out);

/* Fills out with resource.labels.cluster_name; returns -1 (out untouched)
 * when the entry names no cluster. */
int	decode_gke_cluster(const struct jdoc *d, int entry, struct buf *out);

#endif
