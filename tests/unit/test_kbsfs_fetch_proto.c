// SPDX-License-Identifier: Apache-2.0
/*
 * cmocka tests for the kbsfs <-> kbsfs-fetch wire codec (fs/fetch_proto.h): requests, reply
 * headers, and the parent's complete reply reader over a real SOCK_SEQPACKET socketpair,
 * with the malformed replies an untrusted child could send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "fs/fetch_proto.h"

static void request_round_trip_and_rejects(void **state)
{
	uint8_t m[KBSFS_PROTO_REQ_HDR + KBSFS_PROTO_PATH_MAX + 8];
	char path[KBSFS_PROTO_PATH_MAX + 1], longp[KBSFS_PROTO_PATH_MAX + 2];
	uint16_t type;
	size_t n;

	(void)state;
	n = kbsfs_proto_req_encode(KBSFS_PROTO_FETCH, "default/akv/coco_one", m, sizeof(m));
	assert_int_equal(n, KBSFS_PROTO_REQ_HDR + 20);
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, sizeof(path)), KBS_OK);
	assert_int_equal(type, KBSFS_PROTO_FETCH);
	assert_string_equal(path, "default/akv/coco_one");
	/* length field and message length must agree */
	assert_int_equal(kbsfs_proto_req_decode(m, n - 1, &type, path, sizeof(path)),
			 KBS_ERR_PROTOCOL);
	assert_int_equal(kbsfs_proto_req_decode(m, 4, &type, path, sizeof(path)),
			 KBS_ERR_PROTOCOL);
	/* too small a destination */
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, 20), KBS_ERR_PROTOCOL);
	/* embedded NUL */
	m[KBSFS_PROTO_REQ_HDR + 3] = 0;
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, sizeof(path)),
			 KBS_ERR_PROTOCOL);
	/* unknown type, bad magic */
	n = kbsfs_proto_req_encode(7, "a/b/c", m, sizeof(m));
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, sizeof(path)),
			 KBS_ERR_PROTOCOL);
	n = kbsfs_proto_req_encode(KBSFS_PROTO_FETCH, "a/b/c", m, sizeof(m));
	m[0] ^= 1;
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, sizeof(path)),
			 KBS_ERR_PROTOCOL);
	/* a fetch needs a path; a status request has none */
	assert_int_equal(kbsfs_proto_req_encode(KBSFS_PROTO_FETCH, "", m, sizeof(m)), 0);
	n = kbsfs_proto_req_encode(KBSFS_PROTO_STATUS, "", m, sizeof(m));
	assert_int_equal(n, KBSFS_PROTO_REQ_HDR);
	assert_int_equal(kbsfs_proto_req_decode(m, n, &type, path, sizeof(path)), KBS_OK);
	assert_int_equal(type, KBSFS_PROTO_STATUS);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(kbsfs_proto_req_encode(KBSFS_PROTO_FETCH, longp, m, sizeof(m)), 0);
	assert_int_equal(kbsfs_proto_req_encode(KBSFS_PROTO_FETCH, "a/b/c", m, 10), 0);
}

static struct kbsfs_proto_reply reply_of(uint16_t type, int rc, uint32_t slen, uint32_t plen)
{
	struct kbsfs_proto_reply r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.rc = rc;
	r.status_len = slen;
	r.payload_len = plen;
	return r;
}

static int decode(const struct kbsfs_proto_reply *in, uint16_t want, size_t max,
		  struct kbsfs_proto_reply *out)
{
	uint8_t h[KBSFS_PROTO_REPLY_LEN];

	kbsfs_proto_reply_encode(in, h);
	return kbsfs_proto_reply_decode(h, sizeof(h), want, max, out);
}

static void reply_header_round_trip(void **state)
{
	struct kbsfs_proto_reply in = reply_of(KBSFS_PROTO_FETCH, KBS_ERR_DENIED, 17, 0), out;

	(void)state;
	in.err.http_status = 401;
	strcpy(in.err.type, "PolicyDeny");
	strcpy(in.err.detail, "resource policy denied default/akv/x");
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_OK);
	assert_int_equal(out.rc, KBS_ERR_DENIED);
	assert_int_equal(out.status_len, 17);
	assert_int_equal(out.err.http_status, 401);
	assert_string_equal(out.err.type, "PolicyDeny");
	assert_string_equal(out.err.detail, "resource policy denied default/akv/x");
	in = reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, 1024);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_OK);
	assert_int_equal(out.payload_len, 1024);
}

static void reply_header_rejects_what_a_child_must_not_send(void **state)
{
	uint8_t h[KBSFS_PROTO_REPLY_LEN];
	struct kbsfs_proto_reply in, out;

	(void)state;
	/* payload larger than the parent accepts, or with an error, or to a status request */
	in = reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, 1025);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_FETCH, KBS_ERR_NOTFOUND, 0, 5);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_STATUS, KBS_OK, 0, 5);
	assert_int_equal(decode(&in, KBSFS_PROTO_STATUS, 1024, &out), KBS_ERR_PROTOCOL);
	/* oversized status, an answer to another request type, unknown error codes */
	in = reply_of(KBSFS_PROTO_FETCH, KBS_OK, KBSFS_PROTO_STATUS_MAX + 1, 0);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_STATUS, KBS_OK, 0, 0);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_FETCH, 1, 0, 0);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_FETCH, KBS_ERR__LAST, 0, 0);
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	in = reply_of(KBSFS_PROTO_FETCH, KBS_ERR_NETWORK, 0, 0);
	in.err.http_status = 1000;
	assert_int_equal(decode(&in, KBSFS_PROTO_FETCH, 1024, &out), KBS_ERR_PROTOCOL);
	/* wrong length, magic, padding */
	in = reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, 0);
	kbsfs_proto_reply_encode(&in, h);
	assert_int_equal(kbsfs_proto_reply_decode(h, sizeof(h) - 1, KBSFS_PROTO_FETCH, 9, &out),
			 KBS_ERR_PROTOCOL);
	h[6] = 1;
	assert_int_equal(kbsfs_proto_reply_decode(h, sizeof(h), KBSFS_PROTO_FETCH, 9, &out),
			 KBS_ERR_PROTOCOL);
	h[6] = 0;
	h[0] ^= 0x80;
	assert_int_equal(kbsfs_proto_reply_decode(h, sizeof(h), KBSFS_PROTO_FETCH, 9, &out),
			 KBS_ERR_PROTOCOL);
	/* unterminated strings come out terminated */
	h[0] ^= 0x80;
	memset(h + 32, 'A', 64 + 256);
	assert_int_equal(kbsfs_proto_reply_decode(h, sizeof(h), KBSFS_PROTO_FETCH, 9, &out),
			 KBS_OK);
	assert_int_equal(strlen(out.err.type), 63);
	assert_int_equal(strlen(out.err.detail), 255);
}

struct pair {
	int parent, child;
};

static struct pair pair_new(void)
{
	int sv[2];
	struct pair p;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	p.parent = sv[0];
	p.child = sv[1];
	return p;
}

static void send_hdr(int fd, struct kbsfs_proto_reply r)
{
	uint8_t h[KBSFS_PROTO_REPLY_LEN];

	kbsfs_proto_reply_encode(&r, h);
	assert_int_equal(send(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
}

static int recv_reply(int fd, uint16_t type, json_t **st, struct secbuf *sb,
		      struct kbsfs_proto_reply *r)
{
	return kbsfs_proto_recv_reply(fd, type, 100000, kbsfs_proto_now_ms() + 2000, r, st, sb);
}

static void reader_gets_status_and_chunked_plaintext_into_secmem(void **state)
{
	struct pair p = pair_new();
	static uint8_t big[KBSFS_PROTO_CHUNK * 2 + 5];
	const char *js = "{\"attested\":true,\"tee\":\"sample\"}";
	struct kbsfs_proto_reply r;
	struct secbuf sb = {NULL, 0};
	json_t *st = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	send_hdr(p.child, reply_of(KBSFS_PROTO_FETCH, KBS_OK, (uint32_t)strlen(js), sizeof(big)));
	assert_int_equal(send(p.child, js, strlen(js), 0), (ssize_t)strlen(js));
	for (i = 0; i < sizeof(big); i += KBSFS_PROTO_CHUNK) {
		size_t c = sizeof(big) - i < KBSFS_PROTO_CHUNK ? sizeof(big) - i : KBSFS_PROTO_CHUNK;

		assert_int_equal(send(p.child, big + i, c, 0), (ssize_t)c);
	}
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r), KBS_OK);
	assert_int_equal(r.rc, KBS_OK);
	assert_true(json_is_true(json_object_get(st, "attested")));
	assert_int_equal(sb.len, sizeof(big));
	assert_true(secmem_contains(sb.p));
	assert_memory_equal(sb.p, big, sizeof(big));
	secbuf_free(&sb);
	json_decref(st);
	/* an error answer: no payload, error fields through */
	{
		struct kbsfs_proto_reply e = reply_of(KBSFS_PROTO_FETCH, KBS_ERR_NOTFOUND, 0, 0);

		strcpy(e.err.type, "PluginInternalError");
		send_hdr(p.child, e);
	}
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r), KBS_OK);
	assert_int_equal(r.rc, KBS_ERR_NOTFOUND);
	assert_string_equal(r.err.type, "PluginInternalError");
	assert_null(st);
	assert_null(sb.p);
	close(p.parent);
	close(p.child);
}

static void reader_rejects_bad_streams(void **state)
{
	struct kbsfs_proto_reply r;
	struct secbuf sb = {NULL, 0};
	json_t *st = NULL;
	struct pair p;
	uint8_t junk[KBSFS_PROTO_CHUNK + 1];

	(void)state;
	memset(junk, 'x', sizeof(junk));
	/* status that is not a JSON object */
	p = pair_new();
	send_hdr(p.child, reply_of(KBSFS_PROTO_FETCH, KBS_OK, 4, 0));
	assert_int_equal(send(p.child, "[1 ]", 4, 0), 4);
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r), KBS_ERR_PROTOCOL);
	close(p.child);
	close(p.parent);
	/* a chunk longer than announced is detected (MSG_TRUNC), not written past the buffer */
	p = pair_new();
	send_hdr(p.child, reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, 10));
	assert_int_equal(send(p.child, junk, 11, 0), 11);
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r), KBS_ERR_PROTOCOL);
	assert_null(sb.p);
	close(p.child);
	close(p.parent);
	/* a chunk over KBSFS_PROTO_CHUNK */
	p = pair_new();
	send_hdr(p.child, reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, sizeof(junk)));
	assert_int_equal(send(p.child, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r), KBS_ERR_PROTOCOL);
	close(p.child);
	close(p.parent);
	/* the child dies mid-reply: EOF, nothing returned */
	p = pair_new();
	send_hdr(p.child, reply_of(KBSFS_PROTO_FETCH, KBS_OK, 0, 10));
	close(p.child);
	assert_int_equal(recv_reply(p.parent, KBSFS_PROTO_FETCH, &st, &sb, &r),
			 KBS_ERR_UNAVAILABLE);
	assert_null(sb.p);
	close(p.parent);
	/* silence: timeout */
	p = pair_new();
	assert_int_equal(kbsfs_proto_recv_reply(p.parent, KBSFS_PROTO_FETCH, 10,
						kbsfs_proto_now_ms() + 50, &r, &st, &sb),
			 KBS_ERR_TIMEOUT);
	close(p.child);
	close(p.parent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(request_round_trip_and_rejects),
	    cmocka_unit_test(reply_header_round_trip),
	    cmocka_unit_test(reply_header_rejects_what_a_child_must_not_send),
	    cmocka_unit_test(reader_gets_status_and_chunked_plaintext_into_secmem),
	    cmocka_unit_test(reader_rejects_bad_streams),
	};

	secmem_init(1 << 20, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
