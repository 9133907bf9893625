/* test_sign.c — Standard Webhooks signatures: the specification's published
 * test vector, several secrets, and every malformed secret refused without
 * the secret appearing in the message. */
#include "t.h"

#include "alert/sign.h"

/* The Standard Webhooks reference libraries' test vector. */
#define VEC_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS		1614265330LL
#define VEC_BODY	"{\"test\": 2432232314}"
#define VEC_SIG		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* base64 of the bytes 0..24, written with and without its padding */
#define KEY25		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA"

static void
test_vector(void)
{
	struct strlist s = { 0 };
	struct buf out;

	buf_init(&out);
	strlist_add(&s, VEC_SECRET);
	T_INTEQ(sign_webhook(&s, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), &out), 0);
	T_STREQ(buf_cstr(&out), VEC_SIG);
	/* a different body, id or timestamp changes the signature */
	buf_reset(&out);
	sign_webhook(&s, VEC_ID, VEC_TS + 1, VEC_BODY, strlen(VEC_BODY), &out);
	T_ASSERT(strcmp(buf_cstr(&out), VEC_SIG) != 0);
	buf_reset(&out);
	sign_webhook(&s, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY) - 1, &out);
	T_ASSERT(strcmp(buf_cstr(&out), VEC_SIG) != 0);
	strlist_free(&s);
	buf_free(&out);
}

static void
test_two_secrets(void)
{
	struct strlist s = { 0 };
	struct buf out;
	const char *sp;

	buf_init(&out);
	strlist_add(&s, "whsec_" KEY25 "==");
	strlist_add(&s, VEC_SECRET);
	T_INTEQ(sign_webhook(&s, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), &out), 0);
	sp = strchr(buf_cstr(&out), ' ');
	T_ASSERT(sp != NULL);
	T_ASSERT(strncmp(buf_cstr(&out), "v1,", 3) == 0);
	T_STREQ(sp ? sp + 1 : NULL, VEC_SIG);
	T_INTEQ(sp ? (long)(sp - out.data) : 0, 3 + 44);	/* v1, + base64 of 32 bytes */
	strlist_free(&s);
	buf_free(&out);
}

static void
test_padding_optional(void)
{
	unsigned char key[SIGN_KEY_MAX];
	size_t len = 0;
	char err[128];

	T_INTEQ(sign_secret_parse("whsec_" KEY25, key, &len, err, sizeof(err)), 0);
	T_INTEQ(len, 25);
	T_INTEQ(key[24], 24);
	T_INTEQ(sign_secret_parse("whsec_" KEY25 "==", key, &len, err, sizeof(err)), 0);
	T_INTEQ(len, 25);
}

static void
test_bad_secrets(void)
{
	static const char *bad[] = {
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",		/* no prefix */
		"whsec_",					/* empty */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",	/* not base64 */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA",	/* 4n+1 digits */
		"whsec_" KEY25 "=",				/* padding that does not fit */
		"whsec_" KEY25 "===",
		"whsec_AAECAwQFBgcICQoLDA0ODw==",		/* 16 bytes: too short */
		"whsec_" KEY25 "B",				/* leftover bits set */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZI o2LaLaSw",	/* a space */
	};
	unsigned char key[SIGN_KEY_MAX];
	struct strlist s = { 0 };
	struct buf out;
	size_t len;
	char err[128];

	buf_init(&out);
	buf_puts(&out, "kept");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		T_INTEQ(sign_secret_parse(bad[i], key, &len, err, sizeof(err)), -1);
		T_ASSERT(err[0] != '\0');
		/* the message never quotes the secret */
		T_ASSERT(strlen(bad[i]) <= 6 || strstr(err, bad[i] + 6) == NULL);
		strlist_add(&s, bad[i]);
		T_INTEQ(sign_webhook(&s, "1", 1, "{}", 2, &out), -1);
		T_STREQ(buf_cstr(&out), "kept");
		strlist_free(&s);
	}
	buf_free(&out);
}

int
main(void)
{
	T_RUN(test_vector);
	T_RUN(test_two_secrets);
	T_RUN(test_padding_optional);
	T_RUN(test_bad_secrets);
	return t_done();
}
