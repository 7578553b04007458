// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the kbsfs parent's reader of kbsfs-fetch replies (the one parser of outside input
 * in the process that holds every secret): the input is a sequence of messages, each
 * "u16 little-endian length | bytes", sent over a real SOCK_SEQPACKET socketpair and read
 * with kbsfs_proto_recv_reply(); the first byte picks the request type. The raw input is
 * also fed to the request and header decoders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/secmem.h"
#include "fs/fetch_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbsfs_proto_reply r;
	struct secbuf sb = {NULL, 0};
	char path[KBSFS_PROTO_PATH_MAX + 1];
	json_t *st = NULL;
	uint16_t type;
	size_t off = 1, n;
	int sv[2], rc;

	if (size < 1 || size > 256 * 1024)
		return 0;
	(void)kbsfs_proto_req_decode(data, size, &type, path, sizeof(path));
	(void)kbsfs_proto_reply_decode(data, size, KBSFS_PROTO_FETCH, 4096, &r);
	type = (data[0] & 1) ? KBSFS_PROTO_FETCH : KBSFS_PROTO_STATUS;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return 0;
	while (off + 2 <= size) {
		n = (size_t)data[off] | ((size_t)data[off + 1] << 8);
		off += 2;
		if (n > size - off)
			n = size - off;
		if (n == 0)
			continue; /* an empty message would read as EOF; the child never sends one */
		if (send(sv[1], data + off, n, MSG_DONTWAIT) != (ssize_t)n)
			break;
		off += n;
	}
	close(sv[1]);
	rc = kbsfs_proto_recv_reply(sv[0], type, 64 * 1024, kbsfs_proto_now_ms() + 1000, &r, &st,
				    &sb);
	if (rc == KBS_OK) {
		if (r.payload_len > 64 * 1024 || r.status_len > KBSFS_PROTO_STATUS_MAX)
			abort();
		if (r.status_len && !json_is_object(st))
			abort();
		if (sb.p && sb.len != r.payload_len)
			abort();
		if (strlen(r.err.type) >= sizeof(r.err.type) ||
		    strlen(r.err.detail) >= sizeof(r.err.detail))
			abort();
	} else if (sb.p || st) {
		abort();
	}
	json_decref(st);
	secbuf_free(&sb);
	close(sv[0]);
	return 0;
}
