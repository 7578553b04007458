/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_FETCH_PROTO_H
#define KBS_FS_FETCH_PROTO_H

/*
 * kbsfs <-> kbsfs-fetch wire format over socketpair(AF_UNIX, SOCK_SEQPACKET), one request at
 * a time. All integers little-endian, fixed offsets, no padding.
 *
 * Request (parent -> child), one message:
 *   u32 magic "KBF1" | u16 type | u16 path_len | path bytes (no NUL)
 * Reply (child -> parent):
 *   1. one header message of exactly KBSFS_PROTO_REPLY_LEN bytes:
 *      u32 magic | u16 type | u16 0 | i32 rc | u32 status_len | u32 payload_len | u32 0 |
 *      i64 http_status | char type[64] | char detail[256]
 *   2. status_len > 0: one message with the broker's status JSON (status_len bytes)
 *   3. payload_len > 0: the plaintext in messages of at most KBSFS_PROTO_CHUNK bytes, which
 *      the parent receives straight into secret memory
 * The parent holds every secret and treats the child as untrusted: every length and field
 * of a reply is checked by kbsfs_proto_reply_decode() before anything is allocated.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/secmem.h"

#include "broker/broker.h" /* struct broker_error only: kbsfs does not link the broker */

#define KBSFS_PROTO_MAGIC 0x3146424bu /* "KBF1" */
#define KBSFS_PROTO_REQ_HDR 8
#define KBSFS_PROTO_PATH_MAX 1024
#define KBSFS_PROTO_REPLY_LEN 352
#define KBSFS_PROTO_STATUS_MAX (64 * 1024)
#define KBSFS_PROTO_CHUNK (32 * 1024)

enum kbsfs_proto_type {
	KBSFS_PROTO_FETCH = 1,	/* fetch path; reply carries the plaintext */
	KBSFS_PROTO_STATUS = 2, /* reply carries only the status (start-up check) */
};

struct kbsfs_proto_reply {
	uint16_t type;
	int32_t rc; /* enum kbs_err */
	uint32_t status_len;
	uint32_t payload_len;
	struct broker_error err;
};

/* Encodes a request into out (outlen >= KBSFS_PROTO_REQ_HDR + path length); returns the
 * message length, or 0 if the path is empty, too long or out too small. */
size_t kbsfs_proto_req_encode(uint16_t type, const char *path, uint8_t *out, size_t outlen);

/* Decodes a request message; path gets a NUL-terminated copy. KBS_OK or KBS_ERR_PROTOCOL. */
int kbsfs_proto_req_decode(const uint8_t *msg, size_t len, uint16_t *type, char *path,
			   size_t pathlen);

/* Encodes a reply header into out[KBSFS_PROTO_REPLY_LEN]. */
void kbsfs_proto_reply_encode(const struct kbsfs_proto_reply *r, uint8_t *out);

/*
 * Decodes and validates a reply header for a request of type want_type: exact length, magic,
 * type, rc a known error code, status_len <= KBSFS_PROTO_STATUS_MAX, payload only on success
 * of a fetch and at most max_payload bytes; err strings come out NUL-terminated. Returns
 * KBS_OK or KBS_ERR_PROTOCOL.
 */
int kbsfs_proto_reply_decode(const uint8_t *msg, size_t len, uint16_t want_type,
			     size_t max_payload, struct kbsfs_proto_reply *out);

/*
 * Parent side: receives one complete reply to a request of type `type` from fd before
 * deadline (kbsfs_proto_now_ms() clock): header (validated as above), status JSON (must be an
 * object; *status gets a new reference or NULL), and for a successful fetch the plaintext,
 * received chunk by chunk straight into a secbuf (*out). Returns KBS_OK (the child's answer
 * is r->rc / r->err), or KBS_ERR_PROTOCOL, KBS_ERR_TIMEOUT, KBS_ERR_UNAVAILABLE (EOF),
 * KBS_ERR_IO, KBS_ERR_NOMEM / KBS_ERR_LOCKMEM; then nothing is returned and the stream is
 * out of step: the caller must drop the connection.
 */
int kbsfs_proto_recv_reply(int fd, uint16_t type, size_t max_payload, int64_t deadline,
			   struct kbsfs_proto_reply *r, json_t **status, struct secbuf *out);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t kbsfs_proto_now_ms(void);

#endif
