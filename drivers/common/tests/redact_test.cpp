// Tests of common/redact.hpp: every kind of secret a URI can carry is hidden,
// and nothing else changes.
#include <gtest/gtest.h>

#include "common/redact.hpp"

namespace {

using evdb::common::redact_uri;

TEST(RedactUri, HidesTheUserInfoPassword) {
  EXPECT_EQ(redact_uri("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(redact_uri("redis://:pw@h/0?prefix=x"), "redis://:***@h/0?prefix=x");
  EXPECT_EQ(redact_uri("redis://evdb:p@ss@h"), "redis://evdb:***@h");
}

TEST(RedactUri, HidesPasswordPassAndPasswdParameters) {
  EXPECT_EQ(redact_uri("postgres://h/db?password=secret&schema=s"),
            "postgres://h/db?password=***&schema=s");
  EXPECT_EQ(redact_uri("x://h/db?pass=secret&a=1"), "x://h/db?pass=***&a=1");
  EXPECT_EQ(redact_uri("x://h/db?a=1&passwd=secret"), "x://h/db?a=1&passwd=***");
  EXPECT_EQ(redact_uri("x://h/db?PassWD=secret#frag"), "x://h/db?PassWD=***#frag");
  // Any name holding "password": sslpassword, db_password.
  EXPECT_EQ(redact_uri("postgres://h/db?schema=s&db_password=x&sslpassword=y"),
            "postgres://h/db?schema=s&db_password=***&sslpassword=***");
}

// The drivers percent-decode parameter names, so an encoded name is a secret
// too (found by fuzzing the loader's copy, which this one replaced).
TEST(RedactUri, HidesParametersWhoseDecodedNameIsASecret) {
  EXPECT_EQ(redact_uri("x://h/db?pass%77ord=secret&a=1"), "x://h/db?pass%77ord=***&a=1");
  EXPECT_EQ(redact_uri("x://h/db?%50ASS=secret"), "x://h/db?%50ASS=***");
  // A broken escape is kept as written and judged as such.
  EXPECT_EQ(redact_uri("x://h/db?pass%7=1&pass%=2"), "x://h/db?pass%7=1&pass%=2");
}

TEST(RedactUri, HidesEverySecretAtOnce) {
  EXPECT_EQ(redact_uri("x://u:a@h/d?password=b&pass=c&passwd=d&keep=e"),
            "x://u:***@h/d?password=***&pass=***&passwd=***&keep=e");
}

TEST(RedactUri, LeavesWhatIsNoSecret) {
  EXPECT_EQ(redact_uri("postgres://u@h/db"), "postgres://u@h/db");
  EXPECT_EQ(redact_uri("memory:{unique}"), "memory:{unique}");
  EXPECT_EQ(redact_uri("sqlite:///tmp/a@b:c.db"), "sqlite:///tmp/a@b:c.db");
  // Names that only contain "pass" are not secrets.
  EXPECT_EQ(redact_uri("x://h/?passes=2&bypass=1"), "x://h/?passes=2&bypass=1");
  EXPECT_EQ(redact_uri("x://h/#password=shown-in-fragment"), "x://h/#password=shown-in-fragment");
  EXPECT_EQ(redact_uri(""), "");
}

}  // namespace
