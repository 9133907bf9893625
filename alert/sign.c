/* sign.c — Standard Webhooks signatures (see sign.h). The key is decoded
 * again at each request (a few dozen bytes: cheaper than keeping decoded
 * secrets beside the configuration's strings), and the HMAC runs over the
 * id, the timestamp and the body in three updates so that the body is
 * never copied. */
#include "alert/sign.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/b64.h"

#define SIGN_PREFIX	"whsec_"

int
sign_secret_parse(const char *secret, unsigned char *key, size_t *len, char *err,
    size_t errlen)
{
	long n;

	if (strncmp(secret, SIGN_PREFIX, strlen(SIGN_PREFIX)) != 0) {
		snprintf(err, errlen, "a secret is written whsec_ followed by base64");
		return -1;
	}
	n = b64_decode_strict(secret + strlen(SIGN_PREFIX), strlen(secret + strlen(SIGN_PREFIX)),
	    key, SIGN_KEY_MAX);
	if (n < 0) {
		snprintf(err, errlen, "the part after whsec_ is not base64 of at most %d bytes",
		    SIGN_KEY_MAX);
		return -1;
	}
	if (n < SIGN_KEY_MIN) {
		snprintf(err, errlen, "a secret decodes to %ld bytes; Standard Webhooks "
		    "asks for at least %d", n, SIGN_KEY_MIN);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* HMAC-SHA256 of "{id}.{ts}.{body}" into mac (32 bytes). */
static int
sign_hmac(const unsigned char *key, size_t klen, const char *id, const char *ts,
    const char *body, size_t n, unsigned char *mac)
{
	OSSL_PARAM params[2];
	EVP_MAC *alg = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t maclen = 0;
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(alg)) == NULL ||
	    !EVP_MAC_init(ctx, key, klen, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)body, n) ||
	    !EVP_MAC_final(ctx, mac, &maclen, 32) || maclen != 32)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	return rc;
}

int
sign_webhook(const struct strlist *secrets, const char *id, long long timestamp,
    const char *body, size_t n, struct buf *out)
{
	unsigned char key[SIGN_KEY_MAX], mac[32], b64[48];
	size_t klen, mark = out->len;
	char ts[32], err[128];
	int rc = 0;

	snprintf(ts, sizeof(ts), "%lld", timestamp);
	for (size_t i = 0; i < secrets->n && rc == 0; i++) {
		if (sign_secret_parse(secrets->v[i], key, &klen, err, sizeof(err)) == -1 ||
		    sign_hmac(key, klen, id, ts, body, n, mac) == -1) {
			rc = -1;
			break;
		}
		EVP_EncodeBlock(b64, mac, sizeof(mac));
		buf_printf(out, "%sv1,%s", i ? " " : "", (const char *)b64);
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == -1) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	return rc;
}
