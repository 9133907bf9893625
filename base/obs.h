/* obs.h — the daemon's metrics (`kaudit run`, metrics.listen), reachable
 * from every layer: the consumer, the ingesters, the alerter and the
 * supervisor record what they see through these calls, and app/opsmetrics.c
 * serves the registry.
 *
 * Until obs_init() every call is a no-op costing one load of a pointer, so
 * commands that serve no metrics (scan, check) pay nothing, and code under
 * test needs no registry. Label values come from fixed sets (reasons,
 * outcomes) or from the loaded configuration (rule ids, webhook names,
 * partitions), never from an event. */
#ifndef KAUDIT_OBS_H
#define KAUDIT_OBS_H

#include <stdint.h>

#include "base/buf.h"

struct metrics;

/* Builds the registry; version and commit go into kaudit_build_info.
 * Called once, before any thread records. */
void	obs_init(const char *version);
/* The registry (NULL before obs_init): borrowed. */
struct metrics *obs_registry(void);
/* Appends the text exposition of every family. */
void	obs_expose(struct buf *out);
void	obs_free(void);

void	obs_messages(unsigned long n);
void	obs_events(unsigned long n);
/* One piece of bad input; reason is a short fixed word ("decode"). */
void	obs_ingest_error(const char *reason, unsigned long n);
void	obs_finding(const char *rule, const char *severity);
/* A POST ended: outcome is done, retry, dead or gone. */
void	obs_delivery(const char *webhook, const char *outcome, double seconds);
void	obs_batch(double seconds);
void	obs_db_retry(void);
void	obs_outbox_pending(long n);
void	obs_rules_loaded(long n);
/* result: ok or failed. */
void	obs_reload(const char *result);
/* The reload counts from a counter kept elsewhere (the reload code's own
 * atomics), set as they are at each sample. */
void	obs_reloads_set(unsigned long ok, unsigned long failed);
/* Lag of one partition this process reads; obs_lag_sweep() then forgets
 * the partitions not reported since the previous sweep. */
void	obs_lag(const char *topic, int32_t partition, int64_t lag);
void	obs_lag_sweep(void);
/* One error a Kafka client reported; cause is a fixed word (ingest/kerr.h). */
void	obs_kafka_error(const char *cause);

#endif
