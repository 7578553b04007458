// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes JWE flattened JSON decryption with fixed P-256 and RSA-2048 recipients (the keys
 * of the tests/data/jose/trustee vectors, so seeds decrypt and mutations reach every stage).
 * Invariant: success only with a plaintext as long as the decoded ciphertext, in secmem.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"

static const char p256_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgya+p2EW6dRZrXCFX\n"
	"Z7HWk05Qw9s26JsSe4piKxIPZyGhRANCAARg/tS6JVqdMclh63TGNW1owEm4kjth\n"
	"+mzmaWIuYPKftnkD/hAIuLyZpBrp6VYovGTy8bIMLX6fUXejwpTURiKZ\n"
	"-----END PRIVATE KEY-----\n";

static const char rsa_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIIEpAIBAAKCAQEAsqeEsfm6dtvz/G6d1M/BRCVUv8pu2qlrbHK9x9gDpxizviXQ\n"
	"43odFzO0MVamWrgeCV9kTjM92Hz1WCMjtt/TTOogrJ8hsGjxBqL+Cpzl5KJMiq6Q\n"
	"yHcMezvGPyJpML8jqpYf3AiZRMFTmLpeyI+ACPuq8S9+JbxWfCC2QEHr3bHTFsA8\n"
	"Gr+pqpyG+IZl1cJAG9mnEZsLMPRlpc/4PJbM/F9MWeO+oo7ImZ+JuQpPd4mzHZJZ\n"
	"wjLdwcEVVS9497quF0Iqi1UP4fNRg3ZAzKOY1rOOeW8czcJpmZgI66AJFkUEW5+P\n"
	"pgXU4H0XX7qSU5CklySdiN+nFVAWNz9UxO3DXQIDAQABAoIBACnstO+dJpxo/odB\n"
	"ICnGPVj0F8DQTRZkRrDS9mVU9Hp8igW30x7m07fTqtgfOPe2GFpjt+LAFKXeoSa3\n"
	"TFTIjsoQcW2BBINlBRblHg+4hRyT17l9wL1CbrvmqZ28Qgot+L058K0OmYUwhyEi\n"
	"r0aKomW5RYLG/ef2HCeR96L5tVO3WG2X+rJ0629H//uMdYifjW7CSlOB4WS94fbE\n"
	"YCN2DpuGItYHQvKBAO0TZaT/LOF6lGPYfdMQdMfIENfrp816rm0HkRQw9rqgKoD9\n"
	"+ZIWts5m2LFWkJmDP+Rb25BO1CgahONiTVMa6yZhXRDBnJMF+exBav64Y60/3C0z\n"
	"9Wxgu3MCgYEA1vxzcoxt17H/deEi5BG+nafBjeFZS7ouRmjc2suJ9VPH1Nk3U2IW\n"
	"sjxJxJiZpITOHTNqb0Qeuxr8tMI0JHWypwHaiwXCL/0G8LcvC9jQINZQN+EC6C4q\n"
	"/uP/20d7mVHufJTtFFkNLmUA3vaeN6lP7zZxUgtVrsPKDysvFowhZ08CgYEA1Lyv\n"
	"35Q8Mw+rL6S39ObG5wUDx/YveQa+r7Xj9fgs5Gp/8NADSLl9w8BhAIlRfAFU4GNW\n"
	"Xu92nwogeZNypmBzApX3eNdxr0msFSQxICC4/uuDEkdwF+RU62TozV51JJ8up/hh\n"
	"hcn1ZFHYoQJWmYZQcH6htokXxmeNpOMpwjC9P5MCgYEApoS/vzf6VJmwb1PEvLbp\n"
	"2B96EjU7/yXkdfD/MBF7eCQ+oiTlb5aIUeHUmYxBZWbgZ0nN5QT0cKSEnFXYIW1w\n"
	"xV7wMcJyGM15tLWOoTR8cRLO65lDsSchcnCTWvtRRv5pJOINiDc5uHfPZuPKxP5F\n"
	"xdl7iLry0P0h4wHl5ScBMI0CgYAE/hCajJ4FDL8VtSXkB25viXyXOr3Od0wOT5Rz\n"
	"90kGa0FpY1hQYpoC+AbOvmo9IMLfKTWjsLb18ITmlYFBSk4op2BRY6z1UiNJs7m7\n"
	"aUkuIlTHHwoQZXlgtNOJzketflbX9kpDm4O4wPr2fFmP7MkCetZMtFbsfw2h6vrV\n"
	"5dLrJQKBgQCHNqWjnuuzfF9JvJpRhfEuzxAWNSJiBK3jSWi4KWoEoCwVe9X0qnpd\n"
	"hATO+V79ONhWsm1PepeQSIl2LyLoCyCXeM84zEFS4mE4X8Sq7aNwCiW+lq+rPG9h\n"
	"qSJUnGtnM7S5jxh3iRszXYTTUZzBa044Ybec4dhjDCNgaNcyBaAXLw==\n"
	"-----END RSA PRIVATE KEY-----\n";

static struct jwk *ec_key, *rsa_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	secmem_init(0, true);
	if (jwk_from_pem(p256_pem, strlen(p256_pem), &ec_key) != KBS_OK ||
	    jwk_from_pem(rsa_pem, strlen(rsa_pem), &rsa_key) != KBS_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwk *keys[2] = {ec_key, rsa_key};

	for (int i = 0; i < 2; i++) {
		struct secbuf pt = {0};
		int rc = jwe_decrypt(keys[i], (const char *)data, size, NULL, &pt);

		if (rc == KBS_OK) {
			if (!pt.p || pt.len > size || !secmem_contains(pt.p))
				abort();
		} else if (pt.p || rc >= 0) {
			abort();
		}
		secbuf_free(&pt);
	}
	return 0;
}
