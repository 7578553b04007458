// SPDX-License-Identifier: Apache-2.0
/* Public API of the Rego engine: compile, module lifetime, decisions, explanation, cache. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_int.h"

#define MAX_POLICY_BYTES (1u << 20)

static int digest_all(const char *const *srcs, const size_t *lens, size_t n, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dl = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, srcs[i], lens[i]) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &dl) == 1 && dl == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? KBS_OK : KBS_ERR_CRYPTO;
}

int rego_compile_modules(const char *const *srcs, const size_t *lens, size_t n,
			 const struct rego_compile_opts *opts, struct rego_module **out,
			 struct rego_error *err)
{
	struct rego_module *m;
	struct perr pe = { .err = err };
	struct module **tail;

	if (!out || (n && (!srcs || !lens)))
		return KBS_ERR_INVAL;
	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	m = calloc(1, sizeof(*m));
	if (!m)
		return KBS_ERR_NOMEM;
	if (digest_all(srcs, lens, n, m->digest) != KBS_OK) {
		free(m);
		return KBS_ERR_CRYPTO;
	}
	atomic_init(&m->refs, 1);
	arena_init(&m->ar, 0);
	m->ar.oom = &pe.jb;
	m->ar.oom_code = &pe.code;
	arena_init(&pe.scratch, 0);
	pe.scratch.oom = &pe.jb;
	pe.scratch.oom_code = &pe.code;
	if (setjmp(pe.jb)) {
		arena_free(&pe.scratch);
		arena_free(&m->ar);
		free(m);
		return pe.code ? pe.code : KBS_ERR_PARSE;
	}
	if (opts && opts->n_host_fns) {
		struct rego_host_fn *h = arena_alloc(&m->ar, opts->n_host_fns * sizeof(*h));

		for (size_t i = 0; i < opts->n_host_fns; i++) {
			h[i] = opts->host_fns[i];
			h[i].name = arena_strndup(&m->ar, h[i].name, strlen(h[i].name));
		}
		m->host_fns = h;
		m->n_host_fns = opts->n_host_fns;
	}
	tail = &m->mods;
	for (size_t i = 0; i < n; i++) {
		if (lens[i] > MAX_POLICY_BYTES)
			rego_fail(&pe, KBS_ERR_RANGE, 0, 0, "policy larger than %u bytes",
				  MAX_POLICY_BYTES);
		/* keep a private NUL-terminated copy: explanations point into it */
		char *copy = arena_strndup(&m->ar, srcs[i], lens[i]);
		struct module *mod = rego_parse_module(&m->ar, copy, lens[i], &pe);

		*tail = mod;
		tail = &mod->next;
	}
	rego_link(m, &pe);
	m->ar.oom = NULL;
	m->ar.oom_code = NULL;
	*out = m;
	return KBS_OK;
}

int rego_compile(const char *src, size_t len, const char *name, struct rego_module **out,
		 struct rego_error *err)
{
	int rc;

	if (!src)
		return KBS_ERR_INVAL;
	rc = rego_compile_modules(&src, &len, 1, NULL, out, err);
	if (rc != KBS_OK && err && name) {
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%.64s:%d:%d: %.180s", name, err->line,
			 err->col, err->msg);
		memcpy(err->msg, tmp, sizeof(tmp));
	}
	return rc;
}

struct rego_module *rego_module_ref(struct rego_module *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void rego_module_free(struct rego_module *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	arena_free(&m->ar);
	free(m);
}

const uint8_t *rego_module_digest(const struct rego_module *m)
{
	return m ? m->digest : NULL;
}

int rego_eval_bool(const struct rego_module *m, const char *query, json_t *input, json_t *data,
		   bool *allowed, struct rego_explain *why, struct rego_error *err)
{
	json_t *r = NULL;
	int rc;

	if (!allowed)
		return KBS_ERR_INVAL;
	*allowed = false;
	rc = rego_eval_ex(m, query, input, data, NULL, &r, why, err);
	if (rc == KBS_OK)
		*allowed = r && json_is_true(r);
	json_decref(r);
	return rc;
}

void rego_explain_format(const struct rego_explain *why, char *out, size_t outlen)
{
	size_t o = 0;
	int w = 0;

	if (!out || outlen == 0)
		return;
	out[0] = 0;
	if (!why)
		return;
	for (size_t i = 0; i < why->n && o < outlen; i++) {
		const struct rego_explain_entry *e = &why->e[i];

		if (e->matched)
			w = snprintf(out + o, outlen - o, "%s (line %d): true\n", e->rule, e->line);
		else if (e->fail_line)
			w = snprintf(out + o, outlen - o, "%s (line %d): false at line %d: %s\n",
				     e->rule, e->line, e->fail_line, e->fail_expr);
		else
			w = snprintf(out + o, outlen - o, "%s (line %d): false\n", e->rule, e->line);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (why->dropped && o < outlen) {
		w = snprintf(out + o, outlen - o, "(%zu more rule bodies not recorded)\n",
			     why->dropped);
		o += w > 0 ? (size_t)w : 0;
	}
	if (o >= outlen && outlen > 4) {
		/* cut: say so instead of ending mid-word (at a UTF-8 character boundary) */
		size_t cut = outlen - 5;

		while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(out + cut, "...\n", 5);
	}
}

/* ---------- cache ---------- */

struct cache_entry {
	uint8_t digest[32];
	struct rego_module *m;
	uint64_t used;
};

struct rego_cache {
	pthread_mutex_t mu;
	struct cache_entry *e;
	size_t n, max;
	uint64_t clock;
	struct rego_compile_opts opts;
};

struct rego_cache *rego_cache_new(size_t max_entries, const struct rego_compile_opts *opts)
{
	struct rego_cache *c;

	if (max_entries == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(max_entries, sizeof(*c->e));
	if (!c->e || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->e);
		free(c);
		return NULL;
	}
	c->max = max_entries;
	if (opts)
		c->opts = *opts; /* host function table must outlive the cache */
	return c;
}

void rego_cache_free(struct rego_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		rego_module_free(c->e[i].m);
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c);
}

size_t rego_cache_size(struct rego_cache *c)
{
	size_t n;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

int rego_cache_get(struct rego_cache *c, const char *src, size_t len, const char *name,
		   struct rego_module **out, struct rego_error *err)
{
	uint8_t d[32];
	struct rego_module *m = NULL;
	int rc;

	if (!c || !src || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (digest_all(&src, &len, 1, d) != KBS_OK)
		return KBS_ERR_CRYPTO;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		if (memcmp(c->e[i].digest, d, 32) == 0) {
			c->e[i].used = ++c->clock;
			*out = rego_module_ref(c->e[i].m);
			pthread_mutex_unlock(&c->mu);
			return KBS_OK;
		}
	}
	pthread_mutex_unlock(&c->mu);

	/* compile outside the lock; a concurrent compile of the same text is harmless */
	rc = rego_compile_modules(&src, &len, 1, &c->opts, &m, err);
	if (rc != KBS_OK) {
		if (err && name) {
			char tmp[sizeof(err->msg)];

			snprintf(tmp, sizeof(tmp), "%.64s:%d:%d: %.180s", name, err->line,
				 err->col, err->msg);
			memcpy(err->msg, tmp, sizeof(tmp));
		}
		return rc;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		if (memcmp(c->e[i].digest, d, 32) == 0) {
			/* another thread won the race: use its module */
			rego_module_free(m);
			c->e[i].used = ++c->clock;
			*out = rego_module_ref(c->e[i].m);
			pthread_mutex_unlock(&c->mu);
			return KBS_OK;
		}
	}
	size_t slot = c->n;

	if (c->n == c->max) {
		slot = 0;
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[slot].used)
				slot = i;
		rego_module_free(c->e[slot].m);
	} else {
		c->n++;
	}
	memcpy(c->e[slot].digest, d, 32);
	c->e[slot].m = m;
	c->e[slot].used = ++c->clock;
	*out = rego_module_ref(m);
	pthread_mutex_unlock(&c->mu);
	return KBS_OK;
}
