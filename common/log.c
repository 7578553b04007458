// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"
#include "common/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static struct {
	char ident[32];
	enum log_level level;
	enum log_target target;
	int fd;
	int jfd;		       /* datagram socket to journald, -1 when not open */
	char jpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
} cfg = {"kbsfs", LOG_LVL_INFO, LOG_TARGET_STDERR, 2, -1, LOG_JOURNAL_SOCKET};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(const char *ident, enum log_level level, enum log_target target)
{
	if (ident)
		snprintf(cfg.ident, sizeof(cfg.ident), "%s", ident);
	cfg.level = level;
	cfg.target = target;
	if (target == LOG_TARGET_JOURNAL && cfg.jfd < 0)
		cfg.jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void log_set_journal_socket(const char *path)
{
	snprintf(cfg.jpath, sizeof(cfg.jpath), "%s", path ? path : LOG_JOURNAL_SOCKET);
}

/* A socket address from a path; a leading '@' names an abstract socket (NOTIFY_SOCKET). */
static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sa->sun_path) || (path[0] != '/' && path[0] != '@'))
		return -1;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
	return 0;
}

/*
 * journald's native protocol (systemd.journal-fields(7), "Native Journal Protocol"): one
 * datagram of fields, "NAME=value\n" for values without a newline, otherwise
 * "NAME\n" + 64-bit little-endian length + value + "\n". Returns 0 when journald took it.
 */
static int journal_send(int prio, const char *msg)
{
	char head[96], pid[32], lenle[8];
	struct iovec iov[6];
	struct msghdr mh;
	struct sockaddr_un sa;
	socklen_t salen;
	size_t ml = strlen(msg);
	uint64_t l = ml;
	int n = 0;

	if (cfg.jfd < 0 || unix_addr(cfg.jpath, &sa, &salen) != 0)
		return -1;
	snprintf(head, sizeof(head), "PRIORITY=%d\nSYSLOG_IDENTIFIER=%s\n", prio, cfg.ident);
	snprintf(pid, sizeof(pid), "SYSLOG_PID=%d\n", (int)getpid());
	iov[n++] = (struct iovec){head, strlen(head)};
	iov[n++] = (struct iovec){pid, strlen(pid)};
	if (memchr(msg, '\n', ml) == NULL) {
		iov[n++] = (struct iovec){(void *)"MESSAGE=", 8};
	} else {
		for (int i = 0; i < 8; i++)
			lenle[i] = (char)((l >> (8 * i)) & 0xff);
		iov[n++] = (struct iovec){(void *)"MESSAGE\n", 8};
		iov[n++] = (struct iovec){lenle, 8};
	}
	iov[n++] = (struct iovec){(void *)msg, ml};
	iov[n++] = (struct iovec){(void *)"\n", 1};
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sa;
	mh.msg_namelen = salen;
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	return sendmsg(cfg.jfd, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int log_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, rc = 0;

	if (path == NULL || *path == '\0' || state == NULL)
		return 0;
	if (unix_addr(path, &sa, &salen) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		rc = -1;
	close(fd);
	return rc < 0 ? -1 : 1;
}

void log_set_level(enum log_level level)
{
	cfg.level = level;
}

enum log_level log_get_level(void)
{
	return cfg.level;
}

void log_set_fd(int fd)
{
	cfg.fd = fd;
}

int log_level_parse(const char *s)
{
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	if (strcasecmp(s, "trace") == 0)
		return LOG_LVL_DEBUG;
	return -1;
}

struct out {
	char *p;
	size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	size_t room;

	if (o->cap == 0)
		return;
	room = o->cap - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

static void put_str(struct out *o, const char *s, long prec)
{
	size_t n;

	if (!s) {
		put(o, "(null)", 6);
		return;
	}
	if (secmem_contains(s)) {
		put(o, "<redacted>", 10);
		return;
	}
	n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
	put(o, s, n);
}

/* Minimal printf: see log.h for the supported set. Returns false on an unknown conversion. */
static bool vformat(struct out *o, const char *fmt, va_list ap)
{
	char tmp[64];

	while (*fmt) {
		const char *pct = strchr(fmt, '%');
		long prec = -1;
		int lng = 0;
		bool z = false;

		if (!pct) {
			put(o, fmt, strlen(fmt));
			break;
		}
		put(o, fmt, (size_t)(pct - fmt));
		fmt = pct + 1;
		if (*fmt == '%') {
			put(o, "%", 1);
			fmt++;
			continue;
		}
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(ap, int);
			if (prec < 0)
				prec = -1;
			fmt += 2;
		} else if (fmt[0] == '.' && fmt[1] >= '0' && fmt[1] <= '9') {
			prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				if (prec < 100000)
					prec = prec * 10 + (*fmt - '0');
		}
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			z = true;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			put_str(o, va_arg(ap, const char *), prec);
			break;
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put(o, tmp, 1);
			break;
		case 'd':
		case 'i':
			if (z)
				snprintf(tmp, sizeof(tmp), "%zd", va_arg(ap, ssize_t));
			else if (lng >= 2)
				snprintf(tmp, sizeof(tmp), "%lld", va_arg(ap, long long));
			else if (lng == 1)
				snprintf(tmp, sizeof(tmp), "%ld", va_arg(ap, long));
			else
				snprintf(tmp, sizeof(tmp), "%d", va_arg(ap, int));
			put(o, tmp, strlen(tmp));
			break;
		case 'u':
		case 'x':
			if (z)
				snprintf(tmp, sizeof(tmp), *fmt == 'u' ? "%zu" : "%zx",
					 va_arg(ap, size_t));
			else if (lng >= 2)
				snprintf(tmp, sizeof(tmp), *fmt == 'u' ? "%llu" : "%llx",
					 va_arg(ap, unsigned long long));
			else if (lng == 1)
				snprintf(tmp, sizeof(tmp), *fmt == 'u' ? "%lu" : "%lx",
					 va_arg(ap, unsigned long));
			else
				snprintf(tmp, sizeof(tmp), *fmt == 'u' ? "%u" : "%x",
					 va_arg(ap, unsigned));
			put(o, tmp, strlen(tmp));
			break;
		case 'p':
			snprintf(tmp, sizeof(tmp), "%p", va_arg(ap, void *));
			put(o, tmp, strlen(tmp));
			break;
		default:
			return false;
		}
		fmt++;
	}
	return true;
}

static size_t vformat_line(char *out, size_t outlen, const char *fmt, va_list ap)
{
	struct out o = {out, outlen, 0};

	if (outlen)
		out[0] = 0;
	if (!vformat(&o, fmt, ap)) {
		o.len = 0;
		if (outlen)
			out[0] = 0;
		put(&o, "<bad log format>", 16);
	}
	return o.len;
}

size_t log_format(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vformat_line(out, outlen, fmt, ap);
	va_end(ap);
	return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], full[LOG_LINE_MAX + 96], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int saved = errno, n;

	if (level > cfg.level)
		return;
	va_start(ap, fmt);
	vformat_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (cfg.target == LOG_TARGET_JOURNAL) {
		static const int prio[] = {3, 4, 6, 7};

		/* without a journal (container, no systemd) the line goes to the fd instead */
		if (journal_send(prio[level], line) == 0) {
			errno = saved;
			return;
		}
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(full, sizeof(full), "%s.%03ldZ %s %s[%d]: %s\n", ts, now.tv_nsec / 1000000,
		     level_names[level], cfg.ident, (int)getpid(), line);
	if (n > (int)sizeof(full) - 1)
		n = (int)sizeof(full) - 1;
	if (n > 0 && write(cfg.fd, full, (size_t)n) < 0) {
		/* nothing sensible to do if stderr is gone */
	}
	errno = saved;
}

void log_digest(const void *data, size_t len, char *out, size_t outlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (outlen == 0)
		return;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) {
		snprintf(out, outlen, "sha256:?");
		return;
	}
	snprintf(out, outlen, "sha256:%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
		 md[4], md[5], md[6], md[7]);
}
