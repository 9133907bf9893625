/* test_config.c — config loading: defaults, every key type, and the
 * `file:line: message` errors for unknown keys, wrong types, bad values and
 * unset environment variables. */
#include "app/config.h"
#include "tests/unit/t.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int
load(struct config *c, const char *text, struct buf *errs)
{
	config_defaults(c);
	buf_reset(errs);
	return config_load_text(c, "t.yaml", text, strlen(text), errs);
}

static int
has(const struct buf *errs, const char *needle)
{
	return strstr(buf_cstr(errs), needle) != NULL;
}

static void
test_defaults(void)
{
	struct config c;
	struct buf e;

	buf_init(&e);
	T_INTEQ(load(&c, "", &e), 0);
	T_STREQ(c.brokers, "127.0.0.1:9092");
	T_INTEQ(c.topics.n, 1);
	T_STREQ(c.topics.v[0], "k8s-audit");
	T_STREQ(c.group, "kaudit");
	T_INTEQ(c.workers, 2);
	T_INTEQ(c.max_message_bytes, 4194304);
	T_INTEQ(c.alert.nwebhooks, 0);
	T_INTEQ(c.rules.n, 0);
	T_STREQ(c.cluster, "default");
	config_free(&c);
	buf_free(&e);
}

/* The key table is the only place a default is written: `{}` gives every
 * documented default, and a file stating each default gives the same. */
static void
test_defaults_from_table(void)
{
	struct config c;
	struct buf e;

	buf_init(&e);
	T_INTEQ(load(&c, "{}", &e), 0);
	T_STREQ(c.path, "t.yaml");
	T_STREQ(c.brokers, "127.0.0.1:9092");
	T_STREQ(c.pg_url, "postgresql://kaudit@127.0.0.1:5432/kaudit");
	T_INTEQ(c.batch_max, 500);
	T_INTEQ(c.batch_ms, 200);
	T_STREQ(c.envelope_field, "");
	T_INTEQ(c.alert.max_age_ms, 86400000);
	T_INTEQ(c.alert.max_attempts, 0);
	T_INTEQ(c.alert.backoff_ms, 5000);
	T_INTEQ(c.alert.max_backoff_ms, 36000000);
	T_INTEQ(c.alert.poll_ms, 500);
	T_INTEQ(c.alert.batch, 32);
	T_STREQ(c.log_level, "info");
	T_INTEQ(c.disabled_rules.n, 0);
	T_INTEQ(c.disabled_tags.n, 0);
	config_free(&c);
	T_INTEQ(load(&c, "alert: {webhooks: [{name: a, url: \"http://h/\"}]}", &e), 0);
	T_INTEQ(c.alert.nwebhooks, 1);
	T_INTEQ(c.alert.webhooks[0].timeout_ms, 5000);
	T_INTEQ(c.alert.webhooks[0].concurrency, 4);
	T_ASSERT(c.alert.webhooks[0].rate_limit == 0.0);
	T_INTEQ(c.alert.webhooks[0].min_severity, SEV_INFO);
	T_INTEQ(c.alert.webhooks[0].categories.n, 0);
	config_free(&c);
	buf_free(&e);
}

static void
test_full(void)
{
	static const char text[] =
	    "cluster: prod\n"
	    "kafka:\n"
	    "  brokers: \"k1:9092,k2:9092\"\n"
	    "  topics: [a, b]\n"
	    "  group: g\n"
	    "  properties: {\"security.protocol\": ssl, fetch.min.bytes: 1}\n"
	    "ingest:\n"
	    "  workers: 4\n"
	    "  max_message_bytes: 2048\n"
	    "  envelope_field: message\n"
	    "postgres:\n"
	    "  url: postgresql://x@y/z\n"
	    "alert:\n"
	    "  webhooks:\n"
	    "    - name: soc\n"
	    "      url: http://127.0.0.1:9000/hook\n"
	    "      min_severity: high\n"
	    "      categories: [exec, rbac]\n"
	    "      headers: {Authorization: \"Bearer t\"}\n"
	    "    - name: all\n"
	    "      url: https://example.invalid/x\n"
	    "  max_attempts: 3\n"
	    "rules: [config/rules, extra.yaml]\n"
	    "disabled_rules: [k8s.exec.pod]\n"
	    "log_level: debug\n";
	struct config c;
	struct buf e;

	buf_init(&e);
	T_INTEQ(load(&c, text, &e), 0);
	T_STREQ(buf_cstr(&e), "");
	T_STREQ(c.cluster, "prod");
	T_STREQ(c.brokers, "k1:9092,k2:9092");
	T_INTEQ(c.topics.n, 2);
	T_STREQ(c.topics.v[1], "b");
	T_INTEQ(c.kafka_props.n, 2);
	T_STREQ(c.kafka_props.v[0].key, "security.protocol");
	T_STREQ(c.kafka_props.v[1].value, "1");
	T_INTEQ(c.workers, 4);
	T_INTEQ(c.max_message_bytes, 2048);
	T_STREQ(c.envelope_field, "message");
	T_INTEQ(c.alert.nwebhooks, 2);
	T_STREQ(c.alert.webhooks[0].name, "soc");
	T_INTEQ(c.alert.webhooks[0].min_severity, SEV_HIGH);
	T_INTEQ(c.alert.webhooks[0].categories.n, 2);
	T_STREQ(c.alert.webhooks[0].headers.v[0].value, "Bearer t");
	T_INTEQ(c.alert.webhooks[1].timeout_ms, 5000);
	T_INTEQ(c.alert.webhooks[1].min_severity, SEV_INFO);
	T_INTEQ(c.alert.max_attempts, 3);
	T_INTEQ(c.rules.n, 2);
	T_STREQ(c.disabled_rules.v[0], "k8s.exec.pod");
	T_STREQ(c.log_level, "debug");
	config_free(&c);
	buf_free(&e);
}

static void
test_errors(void)
{
	static const char text[] =
	    "kafka:\n"
	    "  brokers: a\n"
	    "  bogus: 1\n"			/* line 3: unknown key */
	    "ingest:\n"
	    "  workers: many\n"			/* line 5: not an integer */
	    "  batch_max: 0\n"			/* line 6: out of range */
	    "alert:\n"
	    "  webhooks:\n"
	    "    - name: x\n"			/* line 9: no url */
	    "      min_severity: urgent\n"	/* line 10: bad severity */
	    "      colour: red\n"		/* line 11: unknown webhook key */
	    "rules: {a: b}\n"			/* line 12: wrong type */
	    "log_level: loud\n"			/* line 13 */
	    "postgres: [1]\n";			/* line 14: section not a mapping */
	struct config c;
	struct buf e;

	buf_init(&e);
	T_INTEQ(load(&c, text, &e), -1);
	T_ASSERT(has(&e, "t.yaml:3: unknown key \"kafka.bogus\""));
	T_ASSERT(has(&e, "t.yaml:5: ingest.workers: expected an integer, got \"many\""));
	T_ASSERT(has(&e, "t.yaml:6: ingest.batch_max: 0 is out of range"));
	T_ASSERT(has(&e, "t.yaml:9: alert.webhooks: webhook \"x\" needs an http:// or https:// url"));
	T_ASSERT(has(&e, "t.yaml:10: min_severity: \"urgent\" is not one of"));
	T_ASSERT(has(&e, "t.yaml:11: alert.webhooks: unknown key \"colour\""));
	T_ASSERT(has(&e, "t.yaml:12: rules: expected a list, got a mapping"));
	T_ASSERT(has(&e, "t.yaml:13: log_level: \"loud\" is not one of"));
	T_ASSERT(has(&e, "t.yaml:14: postgres: expected a mapping, got a list"));
	config_free(&c);
	buf_free(&e);
}

/* Integer and size keys take decimal digits only (base/num.h): whatever
 * strtol() would have read some other way is an error on the key's line. */
static void
test_strict_numbers(void)
{
	static const char *const bad[] = {
		"1e3", "\" 5\"", "\"5 \"", "+5", "0x10", "010", "5.0", "true", "yes",
		"~", "\"\"", "[5]", "99999999999999999999", "-9223372036854775809",
		"\"4\\n\"", "\"4\\t\"", "٤",
	};
	static const char *const keys[][2] = {
		{ "ingest:\n  workers: ", "\n" },
		{ "ingest:\n  max_message_bytes: ", "\n" },
		{ "alert:\n  webhooks: [{name: a, url: \"http://h/\", timeout_ms: ", "}]\n" },
	};
	struct config c;
	struct buf e;
	char text[256];

	buf_init(&e);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(text, sizeof(text), "%s%s%s", keys[k][0], bad[i], keys[k][1]);
			if (load(&c, text, &e) != -1 || !(has(&e, "t.yaml:2: ingest.") ||
			    has(&e, "t.yaml:2: timeout_ms: "))) {
				printf("  took %s", text);
				t_failed_checks++;
			}
			config_free(&c);
		}
	}
	T_INTEQ(load(&c, "ingest:\n  workers: 1e3\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:2: ingest.workers: expected an integer, got \"1e3\""));
	config_free(&c);
	T_INTEQ(load(&c, "ingest:\n  workers: -1\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:2: ingest.workers: -1 is out of range [1, 64]"));
	config_free(&c);
	T_INTEQ(load(&c, "ingest:\n  max_message_bytes: 99999999999999999999\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:2: ingest.max_message_bytes: 99999999999999999999 is out of range [1024, 1073741824]"));
	config_free(&c);
	/* a quoted number is the number, so "${VAR}" can set one */
	setenv("KAUDIT_T_WORKERS", "7", 1);
	T_INTEQ(load(&c, "ingest:\n  workers: \"${KAUDIT_T_WORKERS}\"\n  max_message_bytes: '2048'\n", &e), 0);
	T_INTEQ(c.workers, 7);
	T_INTEQ(c.max_message_bytes, 2048);
	config_free(&c);
	buf_free(&e);
}

static void
test_env(void)
{
	struct config c;
	struct buf e;

	buf_init(&e);
	setenv("KAUDIT_T_PASS", "s3cret", 1);
	unsetenv("KAUDIT_T_UNSET");
	T_INTEQ(load(&c, "postgres:\n  url: \"postgresql://u:${KAUDIT_T_PASS}@h/db\"\n", &e), 0);
	T_STREQ(c.pg_url, "postgresql://u:s3cret@h/db");
	config_free(&c);
	T_INTEQ(load(&c, "kafka:\n  group: \"${KAUDIT_T_UNSET}\"\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:2: environment variable KAUDIT_T_UNSET is not set"));
	config_free(&c);
	T_INTEQ(load(&c, "kafka:\n  group: \"${oops\"\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:2: unterminated ${"));
	config_free(&c);
	buf_free(&e);
}

static void
test_syntax(void)
{
	struct config c;
	struct buf e;

	buf_init(&e);
	T_INTEQ(load(&c, "kafka:\n  brokers: [a\n  group: b\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:"));
	config_free(&c);
	T_INTEQ(load(&c, "alert:\n  webhooks:\n    - {name: a, url: http://x}\n"
	    "    - {name: a, url: http://y}\n", &e), -1);
	T_ASSERT(has(&e, "t.yaml:4: alert.webhooks: duplicate webhook name \"a\""));
	config_free(&c);
	T_INTEQ(load(&c, "kafka:\n  topics: []\n", &e), -1);
	T_ASSERT(has(&e, "kafka.topics: at least one topic is needed"));
	config_free(&c);
	buf_free(&e);
}

/* A webhook name is a key of kaudit.outbox's unique index: bounded. */
static void
test_webhook_name(void)
{
	struct config c;
	struct buf e;
	char text[512], name[130];

	buf_init(&e);
	memset(name, 'n', sizeof(name) - 1);
	name[129] = '\0';
	snprintf(text, sizeof(text), "alert:\n  webhooks:\n    - {name: %s, url: http://x}\n", name);
	T_INTEQ(load(&c, text, &e), -1);
	T_ASSERT(has(&e, "t.yaml:3: alert.webhooks: a webhook name has at most 128 bytes"));
	config_free(&c);
	name[128] = '\0';
	snprintf(text, sizeof(text), "alert:\n  webhooks:\n    - {name: %s, url: http://x}\n", name);
	T_INTEQ(load(&c, text, &e), 0);
	config_free(&c);
	buf_free(&e);
}

/* Loads a config with one webhook "h" at url whose further keys are
 * "key: file" pairs, two by two in kv (NULL-terminated); its line 5 holds
 * the first of them. */
static int
load_hook(struct config *c, struct buf *e, const char *url, const char *const *kv)
{
	struct buf text;
	int rc;

	buf_init(&text);
	buf_printf(&text, "alert:\n  webhooks:\n    - name: h\n      url: %s\n", url);
	for (; kv[0] != NULL; kv += 2)
		buf_printf(&text, "      %s: %s\n", kv[0], kv[1]);
	rc = load(c, buf_cstr(&text), e);
	buf_free(&text);
	return rc;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	T_ASSERT(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* A webhook's TLS files: read at load, PEM, certificate and key together,
 * https only; each error at the key's line. */
static void
test_webhook_tls(void)
{
	char dir[] = "/tmp/kaudit-test-config.XXXXXX", pem[64], txt[64], nope[64];
	struct config c;
	struct buf e;

	buf_init(&e);
	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(pem, sizeof(pem), "%s/ca.pem", dir);
	snprintf(txt, sizeof(txt), "%s/ca.txt", dir);
	snprintf(nope, sizeof(nope), "%s/nope.pem", dir);
	write_file(pem, "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
	write_file(txt, "not a certificate\n");

	T_INTEQ(load_hook(&c, &e, "https://x", (const char *const[]){ "ca_file", pem,
	    "client_cert", pem, "client_key", pem, NULL }), 0);
	T_STREQ(c.alert.webhooks[0].ca_file, pem);
	T_STREQ(c.alert.webhooks[0].client_key, pem);
	config_free(&c);

	T_INTEQ(load_hook(&c, &e, "https://x", (const char *const[]){ "client_cert", pem,
	    NULL }), -1);
	T_ASSERT(has(&e, "t.yaml:5: alert.webhooks: webhook \"h\": client_cert and "
	    "client_key go together: client_key is missing"));
	config_free(&c);

	T_INTEQ(load_hook(&c, &e, "https://x", (const char *const[]){ "ca_file", nope,
	    "client_key", txt, "client_cert", pem, NULL }), -1);
	T_ASSERT(has(&e, "t.yaml:5: alert.webhooks: webhook \"h\": ca_file "));
	T_ASSERT(has(&e, "nope.pem: cannot open: No such file or directory"));
	T_ASSERT(has(&e, "t.yaml:6: alert.webhooks: webhook \"h\": client_key "));
	T_ASSERT(has(&e, "ca.txt: not a PEM file"));
	config_free(&c);

	T_INTEQ(load_hook(&c, &e, "http://x", (const char *const[]){ "ca_file", pem, NULL }), -1);
	T_ASSERT(has(&e, "t.yaml:3: alert.webhooks: webhook \"h\": ca_file, client_cert "
	    "and client_key apply only to an https:// url"));
	config_free(&c);

	unlink(pem);
	unlink(txt);
	rmdir(dir);
	buf_free(&e);
}

static void
test_example_roundtrip(void)
{
	struct config c;
	struct buf ex, e;

	buf_init(&ex);
	buf_init(&e);
	config_example(&ex);
	T_ASSERT(strstr(buf_cstr(&ex), "max_message_bytes: 4194304") != NULL);
	/* The documented example must itself be a valid config. */
	T_INTEQ(load(&c, buf_cstr(&ex), &e), 0);
	T_STREQ(buf_cstr(&e), "");
	T_INTEQ(c.alert.nwebhooks, 1);
	config_free(&c);
	buf_free(&ex);
	buf_free(&e);
}

/* config/kaudit.example.yaml is generated from the key table; it must not
 * drift from it. Regenerate with `bin/kaudit check --example`. */
static void
test_example_file_current(void)
{
	struct buf ex, file;
	char chunk[4096];
	size_t n;
	FILE *f = fopen("config/kaudit.example.yaml", "rb");

	buf_init(&ex);
	buf_init(&file);
	config_example(&ex);
	T_ASSERT(f != NULL);
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&file, chunk, n);
	if (f)
		fclose(f);
	T_STREQ(buf_cstr(&file), buf_cstr(&ex));
	buf_free(&ex);
	buf_free(&file);
}

int
main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_defaults_from_table);
	T_RUN(test_full);
	T_RUN(test_errors);
	T_RUN(test_strict_numbers);
	T_RUN(test_env);
	T_RUN(test_syntax);
	T_RUN(test_webhook_name);
	T_RUN(test_webhook_tls);
	T_RUN(test_example_roundtrip);
	T_RUN(test_example_file_current);
	return t_done();
}
