// SPDX-License-Identifier: Apache-2.0
/* kbsfs <-> kbsfs-fetch message codec (fs/fetch_proto.h). */
#include "fs/fetch_proto.h"
#include "common/err.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)get_u16(p) | ((uint32_t)get_u16(p + 2) << 16);
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

size_t kbsfs_proto_req_encode(uint16_t type, const char *path, uint8_t *out, size_t outlen)
{
	size_t n = path ? strlen(path) : 0;

	if (n > KBSFS_PROTO_PATH_MAX || outlen < KBSFS_PROTO_REQ_HDR + n ||
	    (type == KBSFS_PROTO_FETCH && n == 0))
		return 0;
	put_u32(out, KBSFS_PROTO_MAGIC);
	put_u16(out + 4, type);
	put_u16(out + 6, (uint16_t)n);
	if (n)
		memcpy(out + KBSFS_PROTO_REQ_HDR, path, n);
	return KBSFS_PROTO_REQ_HDR + n;
}

int kbsfs_proto_req_decode(const uint8_t *msg, size_t len, uint16_t *type, char *path,
			   size_t pathlen)
{
	size_t n;

	if (!msg || len < KBSFS_PROTO_REQ_HDR || get_u32(msg) != KBSFS_PROTO_MAGIC)
		return KBS_ERR_PROTOCOL;
	*type = get_u16(msg + 4);
	n = get_u16(msg + 6);
	if (*type != KBSFS_PROTO_FETCH && *type != KBSFS_PROTO_STATUS)
		return KBS_ERR_PROTOCOL;
	if (len != KBSFS_PROTO_REQ_HDR + n || n > KBSFS_PROTO_PATH_MAX || n >= pathlen ||
	    (*type == KBSFS_PROTO_FETCH && n == 0) ||
	    memchr(msg + KBSFS_PROTO_REQ_HDR, 0, n))
		return KBS_ERR_PROTOCOL;
	memcpy(path, msg + KBSFS_PROTO_REQ_HDR, n);
	path[n] = 0;
	return KBS_OK;
}

/* offsets in the reply header */
enum {
	R_MAGIC = 0,
	R_TYPE = 4,
	R_PAD1 = 6,
	R_RC = 8,
	R_STATUS_LEN = 12,
	R_PAYLOAD_LEN = 16,
	R_PAD2 = 20,
	R_HTTP = 24,
	R_ETYPE = 32,
	R_DETAIL = R_ETYPE + 64,
	R_END = R_DETAIL + 256,
};

_Static_assert(R_END == KBSFS_PROTO_REPLY_LEN, "reply header layout");
_Static_assert(sizeof(((struct broker_error *)0)->type) == 64, "broker_error.type size");
_Static_assert(sizeof(((struct broker_error *)0)->detail) == 256, "broker_error.detail size");

void kbsfs_proto_reply_encode(const struct kbsfs_proto_reply *r, uint8_t *out)
{
	memset(out, 0, KBSFS_PROTO_REPLY_LEN);
	put_u32(out + R_MAGIC, KBSFS_PROTO_MAGIC);
	put_u16(out + R_TYPE, r->type);
	put_u32(out + R_RC, (uint32_t)r->rc);
	put_u32(out + R_STATUS_LEN, r->status_len);
	put_u32(out + R_PAYLOAD_LEN, r->payload_len);
	put_u64(out + R_HTTP, (uint64_t)(int64_t)r->err.http_status);
	/* strnlen: the sender's strings are NUL-terminated, the wire fields need not be */
	memcpy(out + R_ETYPE, r->err.type, strnlen(r->err.type, 63));
	memcpy(out + R_DETAIL, r->err.detail, strnlen(r->err.detail, 255));
}

int kbsfs_proto_reply_decode(const uint8_t *msg, size_t len, uint16_t want_type,
			     size_t max_payload, struct kbsfs_proto_reply *out)
{
	int64_t http;

	memset(out, 0, sizeof(*out));
	if (!msg || len != KBSFS_PROTO_REPLY_LEN || get_u32(msg + R_MAGIC) != KBSFS_PROTO_MAGIC ||
	    get_u16(msg + R_PAD1) != 0 || get_u32(msg + R_PAD2) != 0)
		return KBS_ERR_PROTOCOL;
	out->type = get_u16(msg + R_TYPE);
	out->rc = (int32_t)get_u32(msg + R_RC);
	out->status_len = get_u32(msg + R_STATUS_LEN);
	out->payload_len = get_u32(msg + R_PAYLOAD_LEN);
	http = (int64_t)get_u64(msg + R_HTTP);
	if (out->type != want_type || out->rc > 0 || out->rc <= KBS_ERR__LAST ||
	    out->status_len > KBSFS_PROTO_STATUS_MAX || http < 0 || http > 999)
		goto bad;
	/* a payload only with a successful fetch; a successful fetch may be empty */
	if (out->payload_len && (out->type != KBSFS_PROTO_FETCH || out->rc != 0 ||
				 out->payload_len > max_payload))
		goto bad;
	out->err.http_status = (long)http;
	memcpy(out->err.type, msg + R_ETYPE, 63);
	out->err.type[63] = 0;
	memcpy(out->err.detail, msg + R_DETAIL, 255);
	out->err.detail[255] = 0;
	return KBS_OK;
bad:
	memset(out, 0, sizeof(*out));
	return KBS_ERR_PROTOCOL;
}

int64_t kbsfs_proto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Receives one message of exactly want bytes into p before deadline. KBS_OK, or
 * KBS_ERR_TIMEOUT, KBS_ERR_UNAVAILABLE (peer gone), KBS_ERR_PROTOCOL (wrong size).
 */
static int recv_exact(int fd, void *p, size_t want, int64_t deadline)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - kbsfs_proto_now_ms();
		if (left <= 0)
			return KBS_ERR_TIMEOUT;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return KBS_ERR_IO;
		if (r == 0)
			return KBS_ERR_TIMEOUT;
		/* MSG_TRUNC: n is the real message length, so an oversized one is detected (and
		 * its excess discarded by the kernel, never written past p) */
		n = recv(fd, p, want, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			return KBS_ERR_UNAVAILABLE; /* EOF (SEQPACKET: empty messages are never sent) */
		if (n < 0)
			return errno == ECONNRESET ? KBS_ERR_UNAVAILABLE : KBS_ERR_IO;
		return (size_t)n == want ? KBS_OK : KBS_ERR_PROTOCOL;
	}
}

int kbsfs_proto_recv_reply(int fd, uint16_t type, size_t max_payload, int64_t deadline,
			   struct kbsfs_proto_reply *r, json_t **status, struct secbuf *out)
{
	uint8_t hdr[KBSFS_PROTO_REPLY_LEN];
	struct secbuf sb = {NULL, 0};
	char *stext = NULL;
	json_t *st = NULL;
	size_t off, chunk;
	int rc;

	*status = NULL;
	rc = recv_exact(fd, hdr, sizeof(hdr), deadline);
	if (rc == KBS_OK)
		rc = kbsfs_proto_reply_decode(hdr, sizeof(hdr), type, max_payload, r);
	if (rc != KBS_OK)
		goto out;
	if (r->status_len) {
		stext = malloc(r->status_len);
		if (!stext) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		rc = recv_exact(fd, stext, r->status_len, deadline);
		if (rc != KBS_OK)
			goto out;
		st = json_loadb(stext, r->status_len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(st)) {
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
	}
	if (r->rc == KBS_OK && type == KBSFS_PROTO_FETCH) {
		/* the plaintext goes from the socket straight into secret memory */
		rc = secbuf_alloc(&sb, r->payload_len);
		if (rc != KBS_OK)
			goto out;
		for (off = 0; off < r->payload_len; off += chunk) {
			chunk = r->payload_len - off;
			if (chunk > KBSFS_PROTO_CHUNK)
				chunk = KBSFS_PROTO_CHUNK;
			rc = recv_exact(fd, sb.p + off, chunk, deadline);
			if (rc != KBS_OK)
				goto out;
		}
		*out = sb;
		sb.p = NULL;
		sb.len = 0;
	}
	*status = st;
	st = NULL;
out:
	json_decref(st);
	free(stext);
	secbuf_free(&sb);
	return rc;
}
