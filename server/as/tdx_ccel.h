/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TDX_CCEL_H
#define KBS_AS_TDX_CCEL_H

#include <stddef.h>
#include <stdint.h>

/*
 * CC event log (ACPI CCEL log area, TCG PC Client crypto-agile format; evidence.md §2.9)
 * replay into the TDX runtime measurement registers: for MR index 1..4 (RTMR0..3), in log
 * order, RTMR = SHA-384(RTMR || SHA-384 digest of the event), starting from zero. EV_NO_ACTION
 * events are not extended; index 0 (MRTD) and indexes above 4 do not touch an RTMR.
 */

#define TDX_CCEL_MAX_EVENTS 100000

/*
 * Parses and replays log[0..len). The log ends at len or at an 8-byte all-zero / all-0xFF
 * marker. *nevents = number of events after the spec-ID header. why names the problem.
 */
int tdx_ccel_replay(const uint8_t *log, size_t len, uint8_t rtmr[4][48], size_t *nevents, char *why,
		    size_t whylen);

#endif
