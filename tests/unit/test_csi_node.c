// SPDX-License-Identifier: Apache-2.0
/* cmocka tests for the kbsfs-csi node logic: mountinfo parsing, volume attribute validation
 * (codes, no values in messages, kbsfs options), parameter digests, publish argument order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "k8s/csi/csi_node.h"

/* real lines from a Debian 12 host, plus an escaped mount point and a stacked mount */
static const char mountinfo[] =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
    "512 28 0:62 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/s/mount "
    "ro,nosuid,nodev,relatime shared:300 - fuse.kbsfs kbsfs "
    "ro,user_id=0,group_id=0,default_permissions,allow_other\n"
    "513 28 0:63 / /tmp/with\\040space rw,relatime - tmpfs kbsfs-csi rw,size=1024k\n"
    "514 28 0:64 / /stack rw - tmpfs below rw\n"
    "515 514 0:65 / /stack rw - fuse.kbsfs kbsfs ro\n";

static void test_mountinfo_find(void **state)
{
	char fs[64], src[64];

	(void)state;
	assert_int_equal(csi_mountinfo_find(mountinfo,
					    "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/s/"
					    "mount",
					    fs, sizeof(fs), src, sizeof(src)),
			 KBS_OK);
	assert_string_equal(fs, "fuse.kbsfs");
	assert_string_equal(src, "kbsfs");
	assert_int_equal(
	    csi_mountinfo_find(mountinfo, "/tmp/with space", fs, sizeof(fs), src, sizeof(src)),
	    KBS_OK);
	assert_string_equal(fs, "tmpfs");
	assert_string_equal(src, "kbsfs-csi");
	/* the last entry is the top of a stack */
	assert_int_equal(csi_mountinfo_find(mountinfo, "/stack", fs, sizeof(fs), NULL, 0), KBS_OK);
	assert_string_equal(fs, "fuse.kbsfs");
	assert_int_equal(
	    csi_mountinfo_find(mountinfo, "/tmp/with\\040space", fs, sizeof(fs), NULL, 0),
	    KBS_ERR_NOTFOUND);
	assert_int_equal(csi_mountinfo_find(mountinfo, "/var/lib/kubelet", fs, sizeof(fs), NULL, 0),
			 KBS_ERR_NOTFOUND);
	assert_int_equal(csi_mountinfo_find("", "/", fs, sizeof(fs), NULL, 0), KBS_ERR_NOTFOUND);
	/* malformed: no separator, missing fields */
	assert_int_equal(csi_mountinfo_find("1 2 3:4 / /x rw shared:1 ext4 /dev/x rw\n", "/x", fs,
					    sizeof(fs), NULL, 0),
			 KBS_ERR_PARSE);
	assert_int_equal(csi_mountinfo_find("1 2 3:4 /\n", "/x", fs, sizeof(fs), NULL, 0),
			 KBS_ERR_PARSE);
	assert_int_equal(
	    csi_mountinfo_find("1 2 3:4 / /x rw - ext4\n", "/x", fs, sizeof(fs), NULL, 0),
	    KBS_ERR_PARSE);
}

#define POD(ns)                                                                                    \
	{"csi.storage.k8s.io/pod.name", "p"}, {"csi.storage.k8s.io/pod.namespace", ns},            \
	    {"csi.storage.k8s.io/pod.uid", "u1"},                                                  \
	    {"csi.storage.k8s.io/serviceAccount.name", "sa"},                                      \
	{                                                                                          \
		"csi.storage.k8s.io/ephemeral", "true"                                             \
	}

static const struct csi_node_cfg cfg = {
    .node_id = "n",
    .state_dir = "/nonexistent",
    .kbsfs_bin = "/bin/false",
    .default_kbs_url = "https://kbs:8080",
    .default_kbs_cert = "/etc/kbs/ca.pem",
};

static int parse(const struct csi_node_cfg *c, const struct csi_attr *a, size_t n,
		 struct csi_volume *v, struct csi_result *r)
{
	struct csi_publish_req req;

	memset(&req, 0, sizeof(req));
	req.volume_id = "v";
	req.target_path = "/t";
	req.has_capability = true;
	req.access_type = CSI_ACCESS_MOUNT;
	req.readonly = true;
	req.ctx = a;
	req.nctx = n;
	return csi_volume_parse(c, &req, v, r);
}

static void test_attributes_to_kbsfs_options(void **state)
{
	const struct csi_attr a[] = {
	    {"resources", "default/akv/one, kbs:///default/akv/two"},
	    {"uid", "1000"},
	    {"gid", "2000"},
	    {"mode", "0440"},
	    {"refresh", "300"},
	    {"tee", "snp"},
	    {"csi.storage.k8s.io/serviceAccount.tokens", "{\"kbsfs\":{\"token\":\"T0K\"}}"},
	    POD("team-a")};
	struct csi_volume v, v2;
	struct csi_result r;

	(void)state;
	assert_int_equal(parse(&cfg, a, sizeof(a) / sizeof(a[0]), &v, &r), CSI_OK);
	assert_string_equal(v.options,
			    "kbs_url=https://kbs:8080,kbs_cert=/etc/kbs/ca.pem,tee=snp,"
			    "resources=default/akv/one:default/akv/two,pod_namespace=team-a,"
			    "pod_name=p,pod_uid=u1,service_account=sa,uid=1000,gid=2000,"
			    "mode=0440,refresh=300");
	assert_string_equal(v.ns, "team-a");
	assert_string_equal(v.sa, "sa");
	assert_int_equal(strlen(v.digest), 64);
	/* a new token does not change the digest; another attribute does */
	{
		struct csi_attr b[sizeof(a) / sizeof(a[0])];

		memcpy(b, a, sizeof(a));
		b[6].value = "{\"kbsfs\":{\"token\":\"NEW\"}}";
		assert_int_equal(parse(&cfg, b, sizeof(b) / sizeof(b[0]), &v2, &r), CSI_OK);
		assert_string_equal(v.digest, v2.digest);
		b[3].value = "0400";
		assert_int_equal(parse(&cfg, b, sizeof(b) / sizeof(b[0]), &v2, &r), CSI_OK);
		assert_string_not_equal(v.digest, v2.digest);
		/* order of the map does not matter */
		b[3] = a[0];
		b[0] = a[3];
		b[0].value = "0440";
		assert_int_equal(parse(&cfg, b, sizeof(b) / sizeof(b[0]), &v2, &r), CSI_OK);
		assert_string_equal(v.digest, v2.digest);
	}
}

static void test_attribute_errors(void **state)
{
	static const struct {
		struct csi_attr extra;
		const char *needle;
	} bad[] = {
	    {{"kbs_urll", "https://SECRETVALUE"}, "kbs_urll"},
	    {{"kbs_url", "https://SECRETVALUE"}, "kbs_url"},
	    {{"resources", "default/akv/../SECRETVALUE"}, "resources"},
	    {{"resources", ""}, "resources"},
	    {{"uid", "-1SECRETVALUE"}, "uid"},
	    {{"gid", "1e3"}, "gid"},
	    {{"mode", "0999"}, "mode"},
	    {{"refresh", "soon"}, "refresh"},
	    {{"kbs_cert", "relative/SECRETVALUE.pem"}, "kbs_cert"},
	    {{"kbs_cert_pem", "not a pem SECRETVALUE"}, "kbs_cert_pem"},
	    {{"tee", "sample"}, "allow-sample"},
	    {{"tee", "SNP;rm"}, "tee"},
	    {{"placement", "guest"}, "guest"},
	    {{"placement", "cloud"}, "placement"},
	    /* the pod identity goes into the KBS query string: no '&', '=', spaces */
	    {{"csi.storage.k8s.io/pod.namespace", "a&SECRETVALUE=1"}, "pod.namespace"},
	    {{"csi.storage.k8s.io/serviceAccount.name", "sa SECRETVALUE"}, "serviceAccount"},
	};
	struct csi_volume v;
	struct csi_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct csi_attr a[] = {{"resources", "a/b/c"}, POD("ns"), bad[i].extra};

		/* a later duplicate key wins, as in a map */
		assert_int_equal(parse(&cfg, a, sizeof(a) / sizeof(a[0]), &v, &r),
				 CSI_INVALID_ARGUMENT);
		assert_non_null(strstr(r.msg, bad[i].needle));
		assert_null(strstr(r.msg, "SECRETVALUE"));
	}
	{
		/* no podInfoOnMount */
		struct csi_attr a[] = {{"resources", "a/b/c"}};

		assert_int_equal(parse(&cfg, a, 1, &v, &r), CSI_INVALID_ARGUMENT);
		assert_non_null(strstr(r.msg, "podInfoOnMount"));
	}
	{
		/* no KBS at all */
		struct csi_node_cfg c2 = cfg;
		struct csi_attr a[] = {{"resources", "a/b/c"}, POD("ns")};

		c2.default_kbs_url = NULL;
		assert_int_equal(parse(&c2, a, sizeof(a) / sizeof(a[0]), &v, &r),
				 CSI_INVALID_ARGUMENT);
		/* allowed overrides and sample */
		c2.default_kbs_url = "https://kbs:8080";
		c2.allow_user_kbs_url = true;
		c2.allow_sample = true;
		{
			struct csi_attr b[] = {{"resources", "a/b/c"},
					       POD("ns"),
					       {"kbs_url", "https://other,x"},
					       {"tee", "sample"},
					       {"kbs_cert_pem", "-----BEGIN CERTIFICATE-----\n"}};

			assert_int_equal(parse(&c2, b, sizeof(b) / sizeof(b[0]), &v, &r), CSI_OK);
			/* commas escaped for fuse_opt; the PEM goes to a file later */
			assert_string_equal(v.options,
					    "kbs_url=https://other\\,x,tee=sample,allow_sample,"
					    "resources=a/b/c,pod_namespace=ns,pod_name=p,pod_uid=u1,"
					    "service_account=sa");
			assert_non_null(v.cert_pem);
		}
	}
}

static void test_publish_validation_order(void **state)
{
	struct csi_node *n = NULL;
	struct csi_node_cfg c = cfg;
	struct csi_publish_req req;
	struct csi_result r;
	char dir[] = "/tmp/kbs-csi-unit-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	c.state_dir = dir;
	assert_int_equal(csi_node_new(&c, &n), KBS_OK);
	memset(&req, 0, sizeof(req));
	csi_node_publish(n, &req, &r);
	assert_int_equal(r.code, CSI_INVALID_ARGUMENT);
	assert_non_null(strstr(r.msg, "volume_id"));
	req.volume_id = "v";
	csi_node_publish(n, &req, &r);
	assert_non_null(strstr(r.msg, "target_path"));
	req.target_path = "/t";
	csi_node_publish(n, &req, &r);
	assert_non_null(strstr(r.msg, "volume_capability"));
	req.has_capability = true;
	req.access_type = CSI_ACCESS_BLOCK;
	csi_node_publish(n, &req, &r);
	assert_non_null(strstr(r.msg, "block"));
	req.access_type = CSI_ACCESS_MOUNT;
	csi_node_publish(n, &req, &r);
	assert_int_equal(r.code, CSI_INVALID_ARGUMENT);
	assert_non_null(strstr(r.msg, "readOnly"));
	csi_node_unpublish(n, "", "/t", &r);
	assert_int_equal(r.code, CSI_INVALID_ARGUMENT);
	csi_node_unpublish(n, "v", "", &r);
	assert_int_equal(r.code, CSI_INVALID_ARGUMENT);
	/* unknown volume, missing path: OK */
	csi_node_unpublish(n, "v", "/nonexistent/kbs-csi-unit/mount", &r);
	assert_int_equal(r.code, CSI_OK);
	assert_int_equal(csi_node_adopt(n), 0);
	csi_node_free(n);
	csi_node_free(NULL);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mountinfo_find),
	    cmocka_unit_test(test_attributes_to_kbsfs_options),
	    cmocka_unit_test(test_attribute_errors),
	    cmocka_unit_test(test_publish_validation_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
