// SPDX-License-Identifier: Apache-2.0
/* Rego evaluator: the entry points (rego_eval*, rego_query) and query planning. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "server/policy/rego_eval.h"

/* ---------- entry points ---------- */

struct rego_query_plan {
	struct body *body;
	int nslots;
	const char **names;
	int *slots;
	int nnames;
};

static void ev_init(struct ev *ev, const struct rego_module *m, const struct rego_eval_opts *o)
{
	memset(ev, 0, sizeof(*ev));
	ev->m = m;
	arena_init(&ev->ar, o && o->max_mem ? o->max_mem : (size_t)64 << 20);
	ev->max_steps = o && o->max_steps ? o->max_steps : 10000000;
	ev->now_ns = o ? o->now_ns : 0;
	ev->strict = !(o && o->lenient_builtin_errors);
	ev->max_stack = o && o->max_stack ? o->max_stack : (size_t)1 << 20;
	ev->host_ctx = o ? o->host_ctx : NULL;
	ev->test_builtins = o && o->test_builtins;
}

static int ev_errcode(const struct ev *ev)
{
	return ev->errkind == EE_LIMIT ? KBS_ERR_RANGE : KBS_ERR_INVAL;
}

static const char *const errkind_names[] = {
	"", "eval_type_error", "eval_conflict_error", "eval_builtin_error",
	"eval_limit_error", "rego_unsafe_var_error", "eval_error",
};

static void ev_report(const struct ev *ev, struct rego_error *err)
{
	if (!err)
		return;
	snprintf(err->msg, sizeof(err->msg), "%.40s: %.200s",
		 errkind_names[ev->errkind < 7 ? ev->errkind : 6], ev->errmsg);
	err->line = ev->errline;
	err->col = 0;
}

/* After the longjmp of an evaluation error: reports it and returns its code (a longjmp
 * without an error kind is the arena's: the evaluation memory limit). */
static int ev_failed(struct ev *ev, struct rego_error *err)
{
	if (ev->errkind == EE_NONE) {
		ev->errkind = EE_LIMIT;
		snprintf(ev->errmsg, sizeof(ev->errmsg), "evaluation memory limit exceeded");
	}
	ev_report(ev, err);
	return ev_errcode(ev);
}

struct sol_k {
	struct kont k;
	struct rego_query_plan *qp;
	json_t *out;
};

static int k_solution(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct sol_k *c = (const void *)kk;
	json_t *row = json_object();

	if (!row || json_array_append_new(c->out, row) != 0)
		ev_error(ev, EE_LIMIT, NULL, "out of memory");
	for (int i = 0; i < c->qp->nnames; i++) {
		struct val *v = SLOT(ev, c->qp->slots[i]);

		if (v && json_object_set_new(row, c->qp->names[i], to_json(ev, v, NULL)) != 0)
			ev_error(ev, EE_LIMIT, NULL, "out of memory");
	}
	return 0;
}

/* Runs the query in an evaluation whose arena and jump buffer are set up by the caller. */
static void run_query(struct ev *ev, struct rego_query_plan *qp, json_t *input, json_t *data,
		      const struct kont *k)
{
	ev->input = input ? val_from_json(&ev->ar, input) : NULL;
	ev->data = data ? val_from_json(&ev->ar, data) : NULL;
	ev->gs = arena_alloc(&ev->ar, (size_t)(ev->m->ngroups ? ev->m->ngroups : 1) *
					      sizeof(*ev->gs));
	push_frame(ev, qp->nslots, NULL);
	eval_body_at(ev, qp->body, 0, k, NULL);
}

static int plan_query(const struct rego_module *m, struct arena *a, const char *q, size_t qlen,
		      struct rego_query_plan *qp, struct rego_error *err)
{
	struct perr pe = { .err = err };

	a->oom = &pe.jb;
	a->oom_code = &pe.code;
	if (setjmp(pe.jb)) {
		a->oom = NULL;
		a->oom_code = NULL;
		return pe.code ? pe.code : KBS_ERR_PARSE;
	}
	qp->body = rego_parse_body(a, q, qlen, &pe);
	qp->nslots = rego_link_query((struct rego_module *)m, a, qp->body, &pe, &qp->names,
				     &qp->slots, &qp->nnames);
	/* pe dies with this frame: the arena must not keep pointing into it */
	a->oom = NULL;
	a->oom_code = NULL;
	return KBS_OK;
}

int rego_query(const struct rego_module *m, const char *body, json_t *input, json_t *data,
	       const struct rego_eval_opts *opts, json_t **solutions, struct rego_error *err)
{
	struct ev *ev;
	struct rego_query_plan qp;
	json_t *volatile out = NULL;
	int rc;

	if (!m || !body || !solutions)
		return KBS_ERR_INVAL;
	*solutions = NULL;
	ev = malloc(sizeof(*ev));
	if (!ev)
		return KBS_ERR_NOMEM;
	ev_init(ev, m, opts);
	ev->stack_base = (uintptr_t)&rc;
	rc = plan_query(m, &ev->ar, body, strlen(body), &qp, err);
	if (rc != KBS_OK)
		goto out;
	out = json_array();
	if (!out) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	ev->ar.oom = &ev->jb;
	if (setjmp(ev->jb)) {
		rc = ev_failed(ev, err);
		json_decref(out);
		out = NULL;
		goto out;
	}
	struct sol_k sk = { { k_solution }, &qp, out };

	run_query(ev, &qp, input, data, &sk.k);
	*solutions = out;
	rc = KBS_OK;
out:
	arena_free(&ev->ar);
	free(ev);
	return rc;
}

/* collects the values of the query's single term */
struct qval_k {
	struct kont k;
	struct val **out;
	struct term *t;
};

static int k_qval(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct qval_k *c = (const void *)kk;

	if (*c->out && !val_eq(*c->out, v))
		ev_error(ev, EE_CONFLICT, c->t, "query has more than one value");
	*c->out = v;
	return 0;
}

struct qterm_k {
	struct kont k;
	struct term *t;
	struct val **out;
};

int rego_eval_ex(const struct rego_module *m, const char *query, json_t *input, json_t *data,
		 const struct rego_eval_opts *opts, json_t **result, struct rego_explain *why,
		 struct rego_error *err)
{
	struct ev *ev;
	struct rego_query_plan qp;
	int rc;

	if (!m || !query || !result)
		return KBS_ERR_INVAL;
	*result = NULL;
	if (why) {
		/* entries are written whole when recorded (explain()); zeroing all 32 (12 KB)
		 * cost 2% of a kbs resource GET */
		why->n = 0;
		why->dropped = 0;
	}
	ev = malloc(sizeof(*ev));
	if (!ev)
		return KBS_ERR_NOMEM;
	ev_init(ev, m, opts);
	ev->why = why;
	ev->stack_base = (uintptr_t)&rc;
	rc = plan_query(m, &ev->ar, query, strlen(query), &qp, err);
	if (rc != KBS_OK)
		goto out;
	if (qp.body->n != 1 || qp.body->e[0]->kind != EX_TERM || qp.body->e[0]->neg ||
	    qp.body->e[0]->nwith) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "query must be a single reference such as data.policy.allow");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	ev->ar.oom = &ev->jb;
	if (setjmp(ev->jb)) {
		rc = ev_failed(ev, err);
		goto out;
	}
	struct val *v = NULL;
	struct qval_k qk = { { k_qval }, &v, qp.body->e[0]->a };

	ev->input = input ? val_from_json(&ev->ar, input) : NULL;
	ev->data = data ? val_from_json(&ev->ar, data) : NULL;
	ev->gs = arena_alloc(&ev->ar, (size_t)(m->ngroups ? m->ngroups : 1) * sizeof(*ev->gs));
	push_frame(ev, qp.nslots, NULL);
	eval_term(ev, qp.body->e[0]->a, &qk.k);
	if (v)
		*result = to_json(ev, v, NULL);
	rc = KBS_OK;
out:
	arena_free(&ev->ar);
	free(ev);
	return rc;
}

int rego_eval(const struct rego_module *m, const char *query, json_t *input, json_t *data,
	      json_t **result, struct rego_explain *why)
{
	return rego_eval_ex(m, query, input, data, NULL, result, why, NULL);
}
