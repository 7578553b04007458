// SPDX-License-Identifier: Apache-2.0
/* Reference value records (Trustee's ReferenceValue) and their expiration times. */
#include "rvps/rvps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/civil.h"
#include "common/err.h"
#include "common/json.h"

bool rvps_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > RVPS_MAX_NAME || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '/'))
			return false;
	}
	return true;
}

void rvps_rv_release(struct rvps_rv *rv)
{
	if (!rv)
		return;
	free(rv->name);
	json_decref(rv->value);
	memset(rv, 0, sizeof(*rv));
}

void rvps_rv_list_release(struct rvps_rv_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		rvps_rv_release(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int rvps_rv_list_add(struct rvps_rv_list *l, const char *name, json_t *value, int64_t exp)
{
	int rc = KBS_ERR_NOMEM;
	char *nm = NULL;

	if (!value)
		return KBS_ERR_NOMEM;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct rvps_rv *v;
		if (cap > 1u << 20) {
			rc = KBS_ERR_RANGE;
			goto out;
		}
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			goto out;
		l->v = v;
		l->cap = cap;
	}
	if (!(nm = strdup(name)))
		goto out;
	l->v[l->n].name = nm;
	l->v[l->n].value = value;
	l->v[l->n].expiration = exp;
	l->n++;
	return KBS_OK;
out:
	json_decref(value);
	return rc;
}

/* Years 0..9999 only: what the record format can carry. */
#define T_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define T_MAX (253402300799LL) /* 9999-12-31T23:59:59Z */

int64_t rvps_add_months(int64_t now, int months)
{
	int64_t days, secs, y;
	int64_t m, d;

	if (now < T_MIN || now > T_MAX || months < 0 || months > 12 * 1000)
		return T_MAX;
	days = now >= 0 ? now / 86400 : -((-now + 86399) / 86400);
	secs = now - days * 86400;
	civil_date_from_days(days, &y, &m, &d);
	int64_t mi = (int64_t)(m - 1) + months;
	y += mi / 12;
	m = mi % 12 + 1;
	if (y > 9999)
		return T_MAX;
	if (d > civil_month_days(y, m))
		d = civil_month_days(y, m);
	return civil_days_from_date(y, m, d) * 86400 + secs;
}

int rvps_time_format(int64_t t, char *out, size_t outlen)
{
	int64_t days, secs, y;
	int64_t m, d;

	if (t < T_MIN || t > T_MAX)
		return KBS_ERR_RANGE;
	days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	secs = t - days * 86400;
	civil_date_from_days(days, &y, &m, &d);
	if ((size_t)snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d,
			     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60)) >= outlen)
		return KBS_ERR_RANGE;
	return KBS_OK;
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int rvps_time_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se;

	/* chrono's "%Y-%m-%dT%H:%M:%SZ" as Trustee writes it: exactly 20 characters */
	if (!s || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
	    !digits(s + 17, 2, &se))
		return KBS_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > civil_month_days(y, mo) || h > 23 || mi > 59 ||
	    se > 59)
		return KBS_ERR_PARSE;
	*out = civil_days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return KBS_OK;
}

char *rvps_record_dump(const struct rvps_rv *rv, size_t *len)
{
	char exp[32];
	json_t *o;
	char *txt;

	if (rvps_time_format(rv->expiration, exp, sizeof(exp)) != KBS_OK)
		return NULL;
	/* field order of Trustee's serde struct: version, name, expiration, value */
	o = json_pack("{s:s,s:s,s:s,s:O}", "version", RVPS_MESSAGE_VERSION, "name", rv->name,
		      "expiration", exp, "value", rv->value);
	if (!o)
		return NULL;
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(o);
	if (txt && len)
		*len = strlen(txt);
	return txt;
}

int rvps_record_parse(const uint8_t *p, size_t n, struct rvps_rv *out)
{
	json_t *o = NULL, *v;
	struct json_err jerr;
	const char *name, *exp;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = json_parse((const char *)p, n, RVPS_MAX_MESSAGE, &o, &jerr)) != KBS_OK)
		return rc;
	rc = KBS_ERR_PARSE;
	if (!json_is_object(o) || json_get_string(o, "name", &name, &jerr) != KBS_OK ||
	    json_get_string(o, "expiration", &exp, &jerr) != KBS_OK ||
	    !(v = json_object_get(o, "value")))
		goto out;
	if (rvps_time_parse(exp, &out->expiration) != KBS_OK)
		goto out;
	rc = KBS_ERR_NOMEM;
	if (!(out->name = strdup(name)))
		goto out;
	out->value = json_incref(v);
	rc = KBS_OK;
out:
	json_decref(o);
	if (rc != KBS_OK)
		rvps_rv_release(out);
	return rc;
}
