/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 against FIPS 180-2 vectors and padding boundaries (hashlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "sha256.h"

static void check(const void *buf, size_t len, const char *hex) {
        char out[65];

        memset(out, 'x', sizeof(out));
        sha256_hex(buf, len, out);
        assert_string_equal(out, hex);
}

static void test_fips(void **state) {
        check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
              112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state) {
        _cleanup_free_ char *a = malloc(1000000);

        assert_non_null(a);
        memset(a, 'a', 1000000);
        check(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_boundaries(void **state) {
        static const struct {
                size_t n;
                const char *hex;
        } t[] = {
                { 55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59" },
                { 56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562" },
                { 57, "2fe741af801cc238602ac0ec6a7b0c3a8a87c7fc7d7f02a3fe03d1c12eac4d8f" },
                { 63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488" },
                { 64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108" },
                { 65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781" },
                { 119, "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6" },
                { 120, "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c" },
                { 128, "471fb943aa23c511f6f72f8d1652d9c880cfa392ad80503120547703e56a2be5" },
        };
        unsigned char buf[128];

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (unsigned char) (i % 251);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                check(buf, t[i].n, t[i].hex);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fips),
                cmocka_unit_test(test_million_a),
                cmocka_unit_test(test_boundaries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
