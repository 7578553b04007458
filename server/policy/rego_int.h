/* SPDX-License-Identifier: Apache-2.0 */
/* Internal definitions of the Rego engine (not part of the public API). */
#ifndef KBS_POLICY_REGO_INT_H
#define KBS_POLICY_REGO_INT_H

#include <jansson.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/policy/policy.h"

/* ---------- arena: all AST and evaluation values live in one, freed at once ---------- */

struct arena_chunk;
struct arena_defer;
struct arena {
	struct arena_chunk *head;
	struct arena_defer *defers; /* cleanups run on arena_free (e.g. json_decref) */
	size_t total, limit;
	jmp_buf *oom; /* longjmp target on exhaustion; NULL = return NULL */
	int *oom_code;
};

void arena_init(struct arena *a, size_t limit);
void arena_free(struct arena *a);
void *arena_alloc(struct arena *a, size_t n); /* zeroed */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_defer(struct arena *a, void (*fn)(void *), void *p);

/* ---------- values ---------- */

enum vtype { V_NULL = 0, V_BOOL, V_NUM, V_STR, V_ARR, V_OBJ, V_SET };

/*
 * Numbers: integral values in int64 range are kept exactly as integers; everything else is
 * an IEEE-754 double. Doubles that hold an exact integer in [-2^53, 2^53] are normalised to
 * integers, so 3.0 == 3 and both hash/sort alike. Values neither can hold exactly are big
 * numbers (rego_num.c): big != NB_NONE, s/len their decimal text, d the nearest double.
 */
enum { NB_NONE = 0, NB_INT, NB_DEC };

struct val {
	uint8_t t;
	bool b;      /* V_BOOL */
	bool isint;  /* V_NUM: int64 in i */
	uint8_t big; /* V_NUM: NB_INT (integer beyond int64) or NB_DEC (beyond double) */
	int64_t i;
	double d;
	const char *s; /* V_STR (NUL-terminated, may contain NUL) */
	size_t len;    /* V_STR bytes, V_ARR/V_SET/V_OBJ element count */
	struct val **items; /* V_ARR, V_SET (sorted, unique), V_OBJ keys (sorted, unique) */
	struct val **vals;  /* V_OBJ values */
};

extern const struct val rv_null, rv_true, rv_false;
#define RV_NULL ((struct val *)&rv_null)
#define RV_TRUE ((struct val *)&rv_true)
#define RV_FALSE ((struct val *)&rv_false)

struct val *val_bool(bool b);
struct val *val_int(struct arena *a, int64_t i);
struct val *val_num(struct arena *a, double d); /* normalises integral values */
struct val *val_strn(struct arena *a, const char *s, size_t n);
struct val *val_str(struct arena *a, const char *s);
struct val *val_arr(struct arena *a, struct val **items, size_t n); /* copies items */
/* Sorts and de-duplicates in place (items must be arena memory owned by the caller). */
struct val *val_set_take(struct arena *a, struct val **items, size_t n);
/* Sorts keys; on duplicate keys with different values returns NULL and sets *conflict. */
struct val *val_obj_take(struct arena *a, struct val **keys, struct val **vals, size_t n,
			 bool *conflict);

int val_cmp(const struct val *x, const struct val *y); /* canonical total order */
bool val_eq(const struct val *x, const struct val *y);
struct val *val_obj_get(const struct val *o, const struct val *k);
struct val *val_obj_gets(const struct val *o, const char *k, size_t klen);
bool val_set_has(const struct val *s, const struct val *k);
/* Rego truthiness for expressions: every defined value except false. */
static inline bool val_truthy(const struct val *v)
{
	return v && !(v->t == V_BOOL && !v->b);
}
const char *val_type_name(const struct val *v);
bool val_num_double(const struct val *v, double *d);

/* ---------- big numbers (rego_num.c) ---------- */

/* A number from JSON-number text (validated by the caller, may start with '+'): an int64 or
 * a double where one holds it (integers exactly, reals in the double range), else a big
 * number keeping the exact text. */
struct val *val_num_text(struct arena *a, const char *s, size_t n);
/* Exact comparison of two numbers, at least one of them big. */
int num_cmp_big(const struct val *x, const struct val *y);
/* True for int64 and big integers. */
static inline bool val_is_integer(const struct val *v)
{
	return v->t == V_NUM && (v->isint || v->big == NB_INT);
}

enum { NUM_INEXACT = 1, NUM_EDIVZERO = -1, NUM_ETOOBIG = -2, NUM_ENOMEM = -3 };
/* x op y (op one of + - * / %) for two integers (val_is_integer), exactly: 0 and *out, or
 * NUM_INEXACT for a division with a remainder (the caller divides doubles), or an error. */
int num_int_arith(struct arena *a, const struct val *x, const struct val *y, char op,
		  struct val **out);
/* Magnitude digits of an integer in base 2, 8, 10 or 16 (arena text), *neg its sign; NULL
 * on allocation failure. */
const char *num_int_digits(struct arena *a, const struct val *v, int base, bool upper,
			   bool *neg);
/* |v| of a big number. */
struct val *num_abs_big(struct arena *a, const struct val *v);

/* JSON conversion. from_json never fails except on OOM (longjmp). */
struct val *val_from_json(struct arena *a, json_t *j);
/* New reference; sets become sorted arrays, non-string object keys are JSON-encoded.
 * NULL on allocation failure or for a big number (jansson cannot hold one exactly; see
 * val_has_big). */
json_t *val_to_json(const struct val *v);
/* True if v is or contains a big number. */
bool val_has_big(const struct val *v);

/* Growable pointer vector in an arena. */
struct vec {
	struct val **p;
	size_t n, cap;
};
void vec_push(struct arena *a, struct vec *v, struct val *x);

/* Builds a compact JSON-ish text of v (OPA's %v / json.marshal style) into an arena string. */
struct sbuf {
	char *p;
	size_t n, cap;
	struct arena *a;
};
void sb_putn(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_putc(struct sbuf *b, char c);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void val_write(struct sbuf *b, const struct val *v, bool json); /* json: sets as arrays */
/* An object key as JSON text: strings as they are, other keys as their JSON text quoted. */
void val_write_key(struct sbuf *b, const struct val *k);

/* ---------- AST ---------- */

enum term_kind {
	TM_VAL = 0, /* constant scalar or ground composite */
	TM_VAR,
	TM_REF,
	TM_ARR,
	TM_OBJ,
	TM_SET,
	TM_ACOMP,
	TM_SCOMP,
	TM_OCOMP,
	TM_CALL,
};

enum var_flags { VF_LOCAL = 0, VF_INPUT, VF_DATA };

struct body;
struct group;
struct builtin;

struct term {
	uint8_t kind;
	int line, col;
	int depth; /* height of the term tree (bounded by the parser) */
	struct val *v; /* TM_VAL */
	/* TM_VAR */
	const char *name;
	int slot;  /* resolved frame slot, -1 before resolution */
	int vflag; /* enum var_flags */
	/* TM_REF: head + path; TM_ARR/TM_SET: items; TM_OBJ: items = k0,v0,k1,v1...; TM_CALL: args */
	struct term *head;
	struct term **items;
	int n;
	/* comprehensions: head (value / key), vhead (object value), body */
	struct term *vhead;
	struct body *body;
	int lo, hi; /* comprehensions: frame slots declared inside [lo, hi) */
	/* TM_CALL */
	const char *fname; /* dotted name as written */
	const struct builtin *bi;
	struct group *fn;  /* user function */
	int host;          /* host function index, -1 if none */
};

enum expr_kind { EX_TERM = 0, EX_UNIFY, EX_ASSIGN, EX_SOME_DECL, EX_SOME_IN, EX_EVERY };

/* What a call or a `with` names: a user function, a built-in or a host function. */
struct fnref {
	struct group *fn;
	const struct builtin *bi;
	int host; /* host function index, -1 if none */
};

/* `with input... as v` / `with data... as v` replace documents; `with f as ...` (f a
 * built-in, a host function or a user function) replaces a function by a value or by
 * another function of the same arity. */
enum with_kind { WK_DOC = 0, WK_FN_VALUE, WK_FN_FUNC };

struct withmod {
	struct term *target; /* input... or data... ref, or a function name */
	struct term *value;
	uint8_t kind;        /* enum with_kind (set by the linker) */
	struct fnref tgt;    /* WK_FN_*: the function replaced */
	struct fnref rep;    /* WK_FN_FUNC: its replacement */
};

struct expr {
	uint8_t kind;
	bool neg;
	int line, col;
	const char *src; /* source text of the expression (for explanations) */
	int srclen;
	struct term *a, *b;             /* TERM: a; UNIFY / ASSIGN: a = b */
	struct term *key, *val, *coll;  /* SOME_IN / EVERY; key may be NULL */
	struct body *body;              /* EVERY */
	int lo, hi;                     /* EVERY: slots local to it */
	struct withmod *with;
	int nwith;
};

struct body {
	struct expr **e;
	int n;
};

enum rule_kind { RK_COMPLETE = 0, RK_PSET, RK_POBJ, RK_FUNC };

struct rule {
	int kind;
	int line, col;
	bool is_default;
	struct term **path; /* head reference after the package: constants, then dynamic keys */
	int npath;
	int nstatic;        /* leading constant string elements of path */
	struct term *key;   /* PSET member */
	struct term *value; /* COMPLETE / POBJ / FUNC value (never NULL after parsing) */
	struct term **args; /* FUNC */
	int nargs;
	struct body *body; /* NULL = empty body */
	struct rule *els;  /* else chain */
	bool set_leaf;     /* POBJ `p[q] contains v`: the leaf at p[q] is a set of v */
	int nslots;        /* frame size, shared by the else chain */
	struct module *mod;
	struct rule *next_in_module;
};

struct alias {
	const char *name;
	struct term *ref; /* data.x.y or input.x (head var + constant path) */
};

struct module {
	const char **pkg; /* package path below data */
	int npkg;
	struct alias *aliases; /* import data.x.y [as z] */
	int naliases;
	struct rule *rules;
	const char *src;
	size_t srclen;
	struct module *next;
};

/* All rules sharing one static path. */
struct group {
	int id; /* index into the per-evaluation cache */
	int kind;
	const char **path; /* full path below data (package + static head) */
	int npath;
	char *display; /* "data.policy.allow" */
	struct rule **rules;
	int nrules;
	struct rule *dflt;
	int arity; /* RK_FUNC */
	bool set_leaf; /* RK_POBJ whose leaves are sets (`p[q] contains v`) */
	struct node *node;
};

/* Tree of packages and rules below `data`. */
struct node {
	const char *key;
	const char **path; /* keys from the root (depth entries) */
	int depth;
	struct node **kids;
	int nkids;
	struct group *grp; /* rules at exactly this path */
};

struct rego_module {
	atomic_int refs;
	struct arena ar;
	struct module *mods;
	struct node *root;
	struct group **groups;
	int ngroups;
	const struct rego_host_fn *host_fns; /* copied */
	size_t n_host_fns;
	uint8_t digest[32];
};

/* ---------- parser / compiler ---------- */

struct perr {
	jmp_buf jb;
	struct rego_error *err;
	int code;
	/* parser scratch memory (tokens of a module); whoever catches the longjmp frees it */
	struct arena scratch;
};

/* Parses a module into a (its tokens into pe->scratch, set up by the caller like a: zeroed
 * or arena_init, oom pointing at pe->jb); longjmps to pe->jb on error. */
struct module *rego_parse_module(struct arena *a, const char *src, size_t len, struct perr *pe);
/* Parses a query body (for rego_query) or a single term. */
struct body *rego_parse_body(struct arena *a, const char *src, size_t len, struct perr *pe);
void rego_fail(struct perr *pe, int code, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6), noreturn));

/* Frame slots of one rule or query at most (the linker's limit). */
#define MAX_SLOTS 4096

/* Orders the expressions of b (and the bodies nested in it) so that every variable is bound
 * before use, as OPA does; slots outside [lo, hi) count as bound (rego_safety.c). */
void rego_reorder_nested(struct body *b, int lo, int hi);

/* Builds m->root, the `data` tree of m's packages and rule groups; longjmps on a conflict
 * (rego_link_tree.c). */
void rego_tree_build(struct rego_module *m, struct perr *pe);
/* Child `key` of n (created in a when create, else NULL when absent). */
struct node *rego_node_child(struct arena *a, struct node *n, const char *key, bool create);
/* Node at path[0..n) below m->root, or NULL. */
struct node *rego_find_node(struct rego_module *m, const char **path, int n);

/* Resolves names and groups rules; longjmps on error. */
void rego_link(struct rego_module *m, struct perr *pe);
/* Resolves a query body against the module; returns frame size; names of query vars. */
int rego_link_query(struct rego_module *m, struct arena *a, struct body *b, struct perr *pe,
		    const char ***names, int **slots, int *nnames);

/* ---------- evaluation ---------- */

struct ev;
typedef struct val *(*builtin_fn)(struct ev *ev, struct val **args, const struct term *call);

struct builtin {
	const char *name;
	int arity;
	builtin_fn fn;
	/* OPA built-ins this engine does not implement (http.send...): a module may call them
	 * only if it also replaces them with `with` somewhere (policy tests); an unreplaced
	 * call is an evaluation error. */
	bool mock_only;
};

const struct builtin *rego_builtin_find(const char *name, size_t len);
/* The i-th built-in of all tables, NULL past the end (for tests and documentation). */
const struct builtin *rego_builtin_at(size_t i);

/* Error kinds matching OPA's codes (the conformance runner checks them). */
enum ev_errkind { EE_NONE = 0, EE_TYPE, EE_CONFLICT, EE_BUILTIN, EE_LIMIT, EE_UNSAFE, EE_OTHER };

struct gstate;
struct override;
struct fmock;
struct tz;

struct ev {
	const struct rego_module *m;
	struct arena ar;
	jmp_buf jb;
	int errkind;
	char errmsg[256];
	int errline;
	struct val *input; /* NULL = undefined */
	struct val *data;
	struct val **stack; /* frame slots */
	size_t sp, stackcap;
	size_t fbase; /* current frame = stack[fbase ...] */
	struct gstate *gs; /* per-group cache, ngroups entries */
	struct override *ovr;
	struct fmock *mocks; /* active `with` replacements of functions */
	struct rego_explain *why;
	uint64_t steps, max_steps;
	int depth;
	uintptr_t stack_base; /* address of a local of the entry point */
	size_t max_stack;     /* bytes of C stack evaluation may use */
	int64_t now_ns;
	bool strict;
	bool test_builtins; /* rego_eval_opts.test_builtins */
	void *host_ctx;
	void *rx_cache; /* compiled regular expressions of this evaluation */
	struct tz *tz_cache; /* time zones loaded by this evaluation */
};

void ev_error(struct ev *ev, int kind, const struct term *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));
/* A builtin's own failure: undefined (NULL) normally, an error in strict mode. */
struct val *ev_builtin_error(struct ev *ev, const struct term *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A type error naming the builtin operand (undefined in lenient mode, else an error). */
struct val *ev_type_error(struct ev *ev, const struct term *call, int argno, const char *want,
			  const struct val *got);

int64_t rego_now_ns(struct ev *ev);

#endif
