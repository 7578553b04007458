// SPDX-License-Identifier: Apache-2.0
/*
 * common/log.c without libsystemd: journald's native protocol against a fake journal socket
 * in a temporary directory (fields, binary encoding of multi-line messages, redaction,
 * level filter, fallback to the fd when no journald listens) and sd_notify datagrams to a
 * path and to an abstract NOTIFY_SOCKET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secmem.h"

struct fake {
	char dir[64];
	char path[128];
	int fd;
};

static int bind_dgram(const char *path, int abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	if (abstract) {
		sa.sun_path[0] = '\0';
		len--;
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/kbsfs-log-XXXXXX");
	if (f == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/journal.socket", f->dir);
	f->fd = bind_dgram(f->path, 0);
	log_set_journal_socket(f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	log_setup("kbsfs", LOG_LVL_INFO, LOG_TARGET_STDERR);
	log_set_journal_socket(NULL);
	free(f);
	return 0;
}

/* Receives one datagram (non-blocking: the send already happened); returns its length. */
static ssize_t take(int fd, char *buf, size_t cap)
{
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

/* Value of a "NAME=value\n" field in a datagram, or NULL. */
static const char *field(const char *d, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n;) {
		const char *e = memchr(d + i, '\n', n - i);
		size_t ll = e ? (size_t)(e - (d + i)) : n - i;

		if (ll > nl && memcmp(d + i, name, nl) == 0 && d[i + nl] == '=') {
			snprintf(out, outlen, "%.*s", (int)(ll - nl - 1), d + i + nl + 1);
			return out;
		}
		i += ll + 1;
	}
	return NULL;
}

static void journal_gets_native_fields(void **state)
{
	struct fake *f = *state;
	char d[4096], v[256], pid[16];
	ssize_t n;

	log_setup("test-ident", LOG_LVL_INFO, LOG_TARGET_JOURNAL);
	log_warn("fetched %s (%zu bytes)", "default/akv/coco_one", (size_t)8);
	n = take(f->fd, d, sizeof(d));
	assert_true(n > 0);
	assert_int_equal(d[n - 1], '\n');
	assert_string_equal(field(d, (size_t)n, "MESSAGE", v, sizeof(v)),
			    "fetched default/akv/coco_one (8 bytes)");
	assert_string_equal(field(d, (size_t)n, "PRIORITY", v, sizeof(v)), "4");
	assert_string_equal(field(d, (size_t)n, "SYSLOG_IDENTIFIER", v, sizeof(v)), "test-ident");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_string_equal(field(d, (size_t)n, "SYSLOG_PID", v, sizeof(v)), pid);

	/* priorities follow syslog(3): error 3, info 6; debug is filtered at level info */
	log_error("e");
	n = take(f->fd, d, sizeof(d));
	assert_string_equal(field(d, (size_t)n, "PRIORITY", v, sizeof(v)), "3");
	log_info("i");
	n = take(f->fd, d, sizeof(d));
	assert_string_equal(field(d, (size_t)n, "PRIORITY", v, sizeof(v)), "6");
	log_debug("not sent");
	assert_true(take(f->fd, d, sizeof(d)) < 0);
}

static void multiline_message_uses_the_binary_form(void **state)
{
	struct fake *f = *state;
	static const char want[] = "MESSAGE\n\x0b\0\0\0\0\0\0\0line1\nline2\n";
	char d[4096];
	ssize_t n;

	log_setup("test-ident", LOG_LVL_INFO, LOG_TARGET_JOURNAL);
	log_info("line1\nline2");
	n = take(f->fd, d, sizeof(d));
	assert_true(n > (ssize_t)sizeof(want) - 1);
	/* the message field closes the datagram: NAME\n, le64 length 11, value, \n */
	assert_memory_equal(d + n - (sizeof(want) - 1), want, sizeof(want) - 1);
	assert_null(memmem(d, (size_t)n, "MESSAGE=", 8));
}

static void journal_never_sees_secret_bytes(void **state)
{
	struct fake *f = *state;
	struct secbuf s = {NULL, 0};
	char d[4096], v[256];
	ssize_t n;

	assert_int_equal(secmem_init(0, true), KBS_OK);
	assert_int_equal(secbuf_dup(&s, "TOPSECRET", 9), KBS_OK);
	log_setup("test-ident", LOG_LVL_INFO, LOG_TARGET_JOURNAL);
	log_info("value %s", (const char *)s.p);
	n = take(f->fd, d, sizeof(d));
	assert_true(n > 0);
	assert_null(memmem(d, (size_t)n, "TOPSECRET", 9));
	assert_string_equal(field(d, (size_t)n, "MESSAGE", v, sizeof(v)), "value <redacted>");
	secbuf_free(&s);
}

static void no_journald_falls_back_to_the_fd(void **state)
{
	struct fake *f = *state;
	char missing[160], line[512];
	int p[2];
	ssize_t n;

	snprintf(missing, sizeof(missing), "%s/absent.socket", f->dir);
	log_set_journal_socket(missing);
	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	log_setup("test-ident", LOG_LVL_INFO, LOG_TARGET_JOURNAL);
	log_error("still visible");
	log_set_fd(2);
	n = read(p[0], line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = '\0';
	assert_non_null(strstr(line, "error test-ident["));
	assert_non_null(strstr(line, "still visible\n"));
	close(p[0]);
	close(p[1]);
	log_set_journal_socket(f->path);
}

static void notify_socket_path_and_abstract(void **state)
{
	struct fake *f = *state;
	char path[160], abs_name[64], d[128];
	int fd;
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(log_notify("READY=1"), 0); /* not under systemd: nothing to do */

	snprintf(path, sizeof(path), "%s/notify.socket", f->dir);
	fd = bind_dgram(path, 0);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(log_notify("READY=1"), 1);
	n = take(fd, d, sizeof(d));
	assert_int_equal(n, 7);
	assert_memory_equal(d, "READY=1", 7);
	close(fd);
	unlink(path);

	snprintf(abs_name, sizeof(abs_name), "@kbsfs-test-notify-%d", (int)getpid());
	fd = bind_dgram(abs_name, 1);
	setenv("NOTIFY_SOCKET", abs_name, 1);
	assert_int_equal(log_notify("STOPPING=1"), 1);
	n = take(fd, d, sizeof(d));
	assert_int_equal(n, 10);
	assert_memory_equal(d, "STOPPING=1", 10);
	close(fd);

	/* a relative or nonexistent socket is a failure, not a crash */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(log_notify("READY=1"), -1);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(log_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(journal_gets_native_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(multiline_message_uses_the_binary_form, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(journal_never_sees_secret_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_journald_falls_back_to_the_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(notify_socket_path_and_abstract, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
