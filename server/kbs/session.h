/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_SESSION_H
#define KBS_SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * RCAR session store (kbs-protocol §2): id = 32 lower-case hex chars (a random UUIDv4
 * without dashes), nonce = base64 of 32 random bytes. In memory, thread-safe, bounded;
 * expired sessions are dropped on lookup and by a sweep at most once a minute.
 *
 * The nonce is single-use: the first /attest that presents it consumes it, whether the
 * evidence then verifies or not. An attested session keeps its token (a repeated /attest
 * returns it again, as Trustee does).
 */
#define KBS_SESSION_ID_LEN 32
#define KBS_NONCE_LEN 44

struct kbs_sessions;

struct kbs_session_info {
	char tee[32];
	char nonce[KBS_NONCE_LEN + 1];
	bool nonce_used;
	bool attested;
	time_t expires;
	char *token; /* malloc'ed copy when attested, else NULL */
};

int kbs_sessions_new(size_t max_sessions, struct kbs_sessions **out);
void kbs_sessions_free(struct kbs_sessions *s);

/* New session for tee; fills id (33 bytes) and nonce (45 bytes). KBS_ERR_BUSY when full. */
int kbs_session_create(struct kbs_sessions *s, const char *tee, long lifetime_s, time_t now,
		       char *id, char *nonce, time_t *expires);

/* Copies the session; KBS_ERR_NOTFOUND if unknown, KBS_ERR_EXPIRED (and deleted) if expired. */
int kbs_session_get(struct kbs_sessions *s, const char *id, time_t now,
		    struct kbs_session_info *out);
void kbs_session_info_release(struct kbs_session_info *info);

/*
 * Consumes the nonce: KBS_OK if it matches and was unused; KBS_ERR_VERIFY on mismatch
 * (the nonce stays usable), KBS_ERR_PERM if already used, NOTFOUND/EXPIRED as above.
 */
int kbs_session_consume_nonce(struct kbs_sessions *s, const char *id, const char *nonce,
			      time_t now);

/* Marks the session attested with token (copied). */
int kbs_session_set_token(struct kbs_sessions *s, const char *id, const char *token);

/* Live session count (for metrics / tests). */
size_t kbs_sessions_count(struct kbs_sessions *s);

#endif
