/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_LOG_H
#define KBS_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Logging to stderr (with RFC 3339 timestamps) or journald (its native datagram protocol on
 * /run/systemd/journal/socket, no libsystemd; lines go to the fd when journald is absent).
 *
 * Rule: secrets are never logged. Log lengths and digests (log_digest()) instead.
 * Enforced at run time: the formatter supports a fixed set of conversions, and any %s or
 * %.*s argument that points into the secmem arena is printed as "<redacted>". Unknown
 * conversions make the whole line "<bad log format>" rather than risk undefined output.
 * Supported: %% %c %s %.*s %.Ns %d %i %u %x %ld %lu %lx %lld %llu %zu %zd %p
 */
enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_target { LOG_TARGET_STDERR = 0, LOG_TARGET_JOURNAL };

/* Process-wide settings; call before starting threads. */
void log_setup(const char *ident, enum log_level level, enum log_target target);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug" (also "trace" = debug); returns -1 if unknown. */
int log_level_parse(const char *s);
/* For tests: redirect stderr output to a file descriptor. */
void log_set_fd(int fd);
/* For tests: journald socket path (NULL = /run/systemd/journal/socket); before log_setup. */
void log_set_journal_socket(const char *path);

/*
 * sd_notify(3) without libsystemd: sends state ("READY=1", "STOPPING=1", "STATUS=...") as one
 * datagram to $NOTIFY_SOCKET (a path, or '@' for an abstract socket). Returns 1 when sent,
 * 0 when NOTIFY_SOCKET is unset (not started by systemd with Type=notify), -1 on failure.
 */
int log_notify(const char *state);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Formats into out (always NUL-terminated) with the redaction rules above. */
size_t log_format(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes "sha256:<first 16 hex digits>" of data into out (at least 24 bytes). */
void log_digest(const void *data, size_t len, char *out, size_t outlen);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
