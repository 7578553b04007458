// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the Hygon CSV parsers. Input starting with '{': Trustee-shaped CSV evidence JSON
 * through the whole verifier (built-in root, no store, no network): it never verifies (no HSK
 * of the built-in root signs anything the fuzzer can make) and never crashes. Otherwise the
 * first byte picks a binary parser: 0 CA certificate, 1 CSV certificate, 2 KDS hsk_cek, 3
 * report (16-byte magic, 4-byte flags, data). Parsed certificates survive the serde JSON form
 * unchanged; v1 report fields re-masked with the anonce give the input bytes back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/hygon_csv.h"
#include "server/as/verifier_csv.h"

static void evidence(const uint8_t *data, size_t size)
{
	static struct csv_verifier *v;
	json_t *ev = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *c = NULL;
	struct as_verify_input in = {.evidence = ev};
	char why[256];

	if (!v && csv_verifier_new(NULL, &v, why, sizeof(why)) != KBS_OK)
		abort();
	if (ev && csv_verifier_verify(v, &in, &c, why, sizeof(why)) == KBS_OK)
		abort();
	if (c)
		abort();
	json_decref(ev);
}

static void ca_roundtrip(const uint8_t *p, size_t n)
{
	struct hcsv_ca_cert a, b;
	char why[256];
	json_t *j;

	if (hcsv_ca_cert_parse(p, n, &a, why, sizeof(why)) != KBS_OK)
		return;
	if (!(j = hcsv_ca_cert_to_json(&a)))
		abort();
	if (hcsv_ca_cert_from_json(j, &b, why, sizeof(why)) != KBS_OK ||
	    memcmp(a.raw, b.raw, sizeof(a.raw)) != 0)
		abort();
	json_decref(j);
}

static void csv_roundtrip(const uint8_t *p, size_t n)
{
	struct hcsv_cert a, b;
	char why[256];
	json_t *j;

	if (hcsv_cert_parse(p, n, &a, why, sizeof(why)) != KBS_OK)
		return;
	if (!(j = hcsv_cert_to_json(&a)))
		abort();
	if (hcsv_cert_from_json(j, &b, why, sizeof(why)) != KBS_OK ||
	    memcmp(a.raw, b.raw, sizeof(a.raw)) != 0)
		abort();
	json_decref(j);
}

static void report(const uint8_t *p, size_t n)
{
	struct hcsv_report r;
	char why[256];
	uint32_t flags;

	if (n < 20)
		return;
	memcpy(&flags, p + 16, 4);
	if (hcsv_report_parse(p, flags, p + 20, n - 20, &r, why, sizeof(why)) != KBS_OK)
		return;
	if (r.signed_len != (r.version == 1 ? HCSV_REPORT_V1_SIGNED : HCSV_REPORT_V2_SIGNED))
		abort();
	for (size_t i = 0; i < 64; i++)
		if ((uint8_t)(r.report_data[i] ^ (uint8_t)(r.anonce >> (8 * (i % 4)))) !=
		    p[20 + 64 + i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hcsv_ca_cert hsk;
	struct hcsv_cert cek;
	char why[256];

	if (size == 0)
		return 0;
	if (data[0] == '{') {
		evidence(data, size);
		return 0;
	}
	switch (data[0]) {
	case 0:
		ca_roundtrip(data + 1, size - 1);
		break;
	case 1:
		csv_roundtrip(data + 1, size - 1);
		break;
	case 2:
		(void)hcsv_hsk_cek_parse(data + 1, size - 1, &hsk, &cek, why, sizeof(why));
		break;
	case 3:
		report(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
