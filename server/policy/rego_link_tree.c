// SPDX-License-Identifier: Apache-2.0
/*
 * The `data` tree of a compiled module: one node per path segment (package segments, then a
 * rule's static path), each rule group hung at its node. Conflicting rule kinds, arities and
 * defaults, and rules defined below a complete rule, fail here, at compile time.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_int.h"

struct node *rego_node_child(struct arena *a, struct node *n, const char *key, bool create)
{
	for (int k = 0; k < n->nkids; k++)
		if (strcmp(n->kids[k]->key, key) == 0)
			return n->kids[k];
	if (!create)
		return NULL;
	struct node **nk = arena_alloc(a, (size_t)(n->nkids + 1) * sizeof(*nk));
	struct node *c = arena_alloc(a, sizeof(*c));

	if (n->nkids)
		memcpy(nk, n->kids, (size_t)n->nkids * sizeof(*nk));
	c->key = key;
	c->depth = n->depth + 1;
	c->path = arena_alloc(a, (size_t)c->depth * sizeof(*c->path));
	if (n->depth)
		memcpy(c->path, n->path, (size_t)n->depth * sizeof(*c->path));
	c->path[n->depth] = key;
	nk[n->nkids++] = c;
	n->kids = nk;
	return c;
}

static const char *rule_seg(const struct rule *r, int k)
{
	return r->path[k]->v->s;
}

struct node *rego_find_node(struct rego_module *m, const char **path, int n)
{
	struct node *nd = m->root;

	for (int k = 0; nd && k < n; k++)
		nd = rego_node_child(&m->ar, nd, path[k], false);
	return nd;
}

static void add_rule(struct rego_module *m, struct perr *pe, struct rule *r)
{
	struct module *mod = r->mod;
	int n = mod->npkg + r->nstatic;
	struct node *nd = m->root;

	for (int k = 0; k < n; k++) {
		const char *key = k < mod->npkg ? mod->pkg[k] : rule_seg(r, k - mod->npkg);

		nd = rego_node_child(&m->ar, nd, key, true);
	}
	struct group *g = nd->grp;

	if (!g) {
		g = arena_alloc(&m->ar, sizeof(*g));
		g->kind = r->kind;
		g->npath = n;
		g->path = arena_alloc(&m->ar, (size_t)n * sizeof(*g->path));
		struct sbuf sb = { .a = &m->ar };

		sb_puts(&sb, "data");
		for (int k = 0; k < n; k++) {
			g->path[k] = k < mod->npkg ? mod->pkg[k] : rule_seg(r, k - mod->npkg);
			sb_putc(&sb, '.');
			sb_puts(&sb, g->path[k]);
		}
		g->display = sb.p;
		g->arity = r->nargs;
		g->set_leaf = r->set_leaf;
		g->node = nd;
		g->id = m->ngroups;
		struct group **ng = arena_alloc(&m->ar, (size_t)(m->ngroups + 1) * sizeof(*ng));

		if (m->ngroups)
			memcpy(ng, m->groups, (size_t)m->ngroups * sizeof(*ng));
		ng[m->ngroups++] = g;
		m->groups = ng;
		nd->grp = g;
	}
	if (g->kind != r->kind || g->set_leaf != r->set_leaf)
		rego_fail(pe, KBS_ERR_INVAL, r->line, r->col,
			  "rule %s: conflicting rule kinds (complete, set, object or function)",
			  g->display);
	if (r->kind == RK_FUNC && g->arity != r->nargs)
		rego_fail(pe, KBS_ERR_INVAL, r->line, r->col,
			  "function %s: definitions with different numbers of arguments",
			  g->display);
	if (r->is_default) {
		if (g->dflt)
			rego_fail(pe, KBS_ERR_INVAL, r->line, r->col,
				  "rule %s: multiple default rules", g->display);
		for (int k = 0; k < r->nargs; k++)
			if (r->args[k]->kind != TM_VAR)
				rego_fail(pe, KBS_ERR_INVAL, r->line, r->col,
					  "default function %s: arguments must be variables",
					  g->display);
		g->dflt = r;
		return;
	}
	struct rule **nr = arena_alloc(&m->ar, (size_t)(g->nrules + 1) * sizeof(*nr));

	if (g->nrules)
		memcpy(nr, g->rules, (size_t)g->nrules * sizeof(*nr));
	nr[g->nrules++] = r;
	g->rules = nr;
}

static void check_tree(struct perr *pe, struct node *n)
{
	if (n->grp && n->nkids && n->grp->kind != RK_POBJ) {
		struct rule *r = n->grp->nrules ? n->grp->rules[0] : n->grp->dflt;

		rego_fail(pe, KBS_ERR_INVAL, r->line, r->col,
			  "rule %s conflicts with rules defined below it", n->grp->display);
	}
	for (int k = 0; k < n->nkids; k++)
		check_tree(pe, n->kids[k]);
}

void rego_tree_build(struct rego_module *m, struct perr *pe)
{
	m->root = arena_alloc(&m->ar, sizeof(*m->root));
	m->root->key = "data";
	for (struct module *mod = m->mods; mod; mod = mod->next) {
		/* every package is a document, even without rules (data.pkg == {}) */
		struct node *nd = m->root;

		for (int k = 0; k < mod->npkg; k++)
			nd = rego_node_child(&m->ar, nd, mod->pkg[k], true);
		for (struct rule *r = mod->rules; r; r = r->next_in_module)
			add_rule(m, pe, r);
	}
	check_tree(pe, m->root);
}
