/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_SESSION_PG_H
#define KBS_SERVER_SESSION_PG_H

#include <time.h>

#include "server/kbs/pgstore.h"
#include "server/kbs/session.h"

/*
 * RCAR sessions in the shared `kbs_protocol_session` table, so any replica can finish a
 * handshake another one started. Same contract as session.h; the value is a JSON object
 * {"tee","nonce","nonce_used","attested","expires","token"}. The nonce is consumed with a
 * compare-and-swap on the stored value, so two replicas cannot both accept it. Database
 * outages return KBS_ERR_UNAVAILABLE. Expired rows are swept at most once a minute.
 */
int kbs_pgsess_create(struct pgstore *pg, const char *tee, long lifetime_s, time_t now, char *id,
		      char *nonce, time_t *expires);
int kbs_pgsess_get(struct pgstore *pg, const char *id, time_t now, struct kbs_session_info *out);
int kbs_pgsess_consume_nonce(struct pgstore *pg, const char *id, const char *nonce, time_t now);
int kbs_pgsess_set_token(struct pgstore *pg, const char *id, const char *token);

#endif
