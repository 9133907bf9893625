/* sign.h — Standard Webhooks signatures (HMAC-SHA256 with libcrypto).
 *
 * A secret is written `whsec_` followed by the base64 of the key bytes
 * (24 to 512 of them, as the specification asks). A request carries
 * `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`:
 * `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) for each
 * secret, space-separated, so a receiver can rotate secrets without a gap.
 * No function here logs or copies a secret into an error message. */
#ifndef KAUDIT_SIGN_H
#define KAUDIT_SIGN_H

#include <stddef.h>

#include "base/buf.h"
#include "base/strlist.h"

#define SIGN_KEY_MIN	24	/* bytes of a decoded secret */
#define SIGN_KEY_MAX	512

/* Decodes secret ("whsec_<base64>", padded or not) into key[0..*len)
 * (room for SIGN_KEY_MAX bytes). Returns 0, or -1 with err saying what is
 * wrong (never quoting the secret). */
int	sign_secret_parse(const char *secret, unsigned char *key, size_t *len,
	    char *err, size_t errlen);

/* Appends to out the webhook-signature value for body[0..n) sent as id at
 * timestamp: one `v1,<base64>` per secret, space-separated. -1 when a
 * secret does not parse (configuration checks them first) or libcrypto
 * fails; out is then left as it was. */
int	sign_webhook(const struct strlist *secrets, const char *id, long long timestamp,
	    const char *body, size_t n, struct buf *out);

#endif
