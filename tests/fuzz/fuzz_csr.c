/* fuzz_csr.c — ka.csr.subject on arbitrary DER: the input is wrapped as
 * a CertificateSigningRequest's spec.request (PEM, then base64, as the
 * API server logs it) and evaluated by a rule that prints the subject, so
 * the OpenSSL reader and the subject printer see hostile requests past
 * the two layers of encoding a byte-level fuzzer would rarely get through. */
#include "analyze/rules.h"
#include "base/jtok.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rule[] =
	"- rule: csr\n  title: t\n  severity: low\n  category: rbac\n"
	"  condition: ka.csr.subject exists\n  output: \"subject %{ka.csr.subject}\"\n";

static void
emit(void *arg, json_t *finding, const struct audit_event *ev)
{
	char *text = json_dumps(finding, JSON_COMPACT);

	if (text == NULL)
		abort();
	free(text);
	json_decref(finding);
}

/* Appends the base64 of p[0..n) (EVP_EncodeBlock, no line breaks). */
static void
b64(struct buf *out, const void *p, size_t n)
{
	size_t at = out->len;

	buf_append(out, NULL, 0);
	for (size_t i = 0; i < 4 * ((n + 2) / 3) + 1; i++)
		buf_putc(out, '\0');
	out->len = at + (size_t)EVP_EncodeBlock((unsigned char *)out->data + at, p, (int)n);
	out->data[out->len] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ruleset *rs;
	static struct eval_scratch *s;
	static struct buf pem, json;
	struct rule_source src = { "csr.yaml", rule, sizeof(rule) - 1 };
	struct audit_event ev;
	struct jdoc d;
	struct buf errs;
	char err[128];

	if (size > (256u << 10))
		return 0;
	if (rs == NULL) {
		buf_init(&errs);
		if ((rs = ruleset_compile(&src, 1, NULL, &errs)) == NULL)
			abort();
		buf_free(&errs);
		s = eval_scratch_new(rs);
	}
	buf_reset(&pem);
	buf_puts(&pem, "-----BEGIN CERTIFICATE REQUEST-----\n");
	b64(&pem, data, size);
	buf_puts(&pem, "\n-----END CERTIFICATE REQUEST-----\n");
	buf_reset(&json);
	buf_puts(&json, "{\"kind\":\"Event\",\"auditID\":\"a\",\"verb\":\"create\","
	    "\"objectRef\":{\"resource\":\"certificatesigningrequests\"},"
	    "\"requestObject\":{\"spec\":{\"request\":\"");
	b64(&json, pem.data, pem.len);
	buf_puts(&json, "\"}}}");
	jdoc_init(&d);
	if (jtok_parse(&d, json.data, json.len, err, sizeof(err)) < 0)
		abort();
	memset(&ev, 0, sizeof(ev));
	ev.doc = &d;
	ev.cluster = "fuzz";
	event_index(&ev);
	ruleset_eval(rs, &ev, s, emit, NULL);
	jdoc_free(&d);
	return 0;
}
