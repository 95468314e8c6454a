// URI parsing and redaction (loader/uri.cpp, linked into the test).
#include <gtest/gtest.h>

#include <string>

#include "uri.hpp"

using evdb::loader::ParsedUri;
using evdb::loader::redact_uri;

namespace {
ParsedUri parse_ok(const std::string& text) {
  ParsedUri u;
  std::string err;
  EXPECT_TRUE(ParsedUri::parse(text, u, err)) << text << ": " << err;
  return u;
}
std::string parse_err(const std::string& text) {
  ParsedUri u;
  std::string err;
  EXPECT_FALSE(ParsedUri::parse(text, u, err)) << text;
  return err;
}
}  // namespace

TEST(Uri, SchemesAndPaths) {
  auto m = parse_ok("memory:");
  EXPECT_STREQ(m.as_c().scheme, "memory");
  EXPECT_STREQ(m.as_c().path, "");
  EXPECT_EQ(m.as_c().has_authority, 0);
  EXPECT_STREQ(parse_ok("memory:shared-1").as_c().path, "shared-1");
  EXPECT_STREQ(parse_ok("sqlite:relative/dir/x.db").as_c().path, "relative/dir/x.db");
  auto a = parse_ok("SQLite:///tmp/a%20b/x.db?busy_timeout_ms=5");
  EXPECT_STREQ(a.as_c().scheme, "sqlite");
  EXPECT_STREQ(a.as_c().path, "/tmp/a b/x.db");
  EXPECT_EQ(a.as_c().has_authority, 1);
  EXPECT_STREQ(a.as_c().host, "");
  ASSERT_EQ(a.as_c().param_count, 1u);
  EXPECT_STREQ(a.as_c().params[0].key, "busy_timeout_ms");
  EXPECT_STREQ(a.as_c().params[0].value, "5");
}

TEST(Uri, AuthorityAndParams) {
  auto p = parse_ok("postgres://evdb:p%40ss@127.0.0.1:15432/db?schema=t_1&sslmode=disable&flag");
  const evdb_uri& c = p.as_c();
  EXPECT_STREQ(c.user, "evdb");
  EXPECT_STREQ(c.password, "p@ss");
  EXPECT_STREQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 15432);
  EXPECT_STREQ(c.path, "/db");
  ASSERT_EQ(c.param_count, 3u);
  EXPECT_STREQ(c.params[1].key, "sslmode");
  EXPECT_STREQ(c.params[2].key, "flag");
  EXPECT_STREQ(c.params[2].value, "");
  EXPECT_EQ(std::string(c.redacted).find("p%40ss"), std::string::npos);
  EXPECT_STREQ(parse_ok("redis://[::1]:6379").as_c().host, "::1");
}

TEST(Uri, MalformedOnesGetClearErrors) {
  EXPECT_NE(parse_err("").find("empty"), std::string::npos);
  EXPECT_NE(parse_err("no scheme here").find("character"), std::string::npos);
  EXPECT_NE(parse_err("redis://[::1").find("syntax error"), std::string::npos);
  EXPECT_NE(parse_err("redis://host:99999").find("invalid port"), std::string::npos);
  EXPECT_NE(parse_err("sqlite:///x.db#frag").find("fragment"), std::string::npos);
  EXPECT_NE(parse_err("/just/a/path").find("no scheme"), std::string::npos);
  std::string e = parse_err("postgres://u:hunter2@host:70000/x");
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
}

TEST(Uri, RedactionHidesPasswordsEverywhere) {
  EXPECT_EQ(redact_uri("redis://u:hunter2@h:1/0?prefix=a"), "redis://u:***@h:1/0?prefix=a");
  EXPECT_EQ(redact_uri("postgres://h/db?user=u&password=hunter2&x=1"),
            "postgres://h/db?user=u&password=***&x=1");
  EXPECT_EQ(redact_uri("redis://:hunter2@h"), "redis://:***@h");
  EXPECT_EQ(redact_uri("sqlite:///x.db"), "sqlite:///x.db");
  EXPECT_EQ(redact_uri("bad://u:hun@ter2@h/x").find("ter2"), std::string::npos);
}

// Found by fuzzing (fuzz/corpus/uri/regress-encoded-nul): drivers get C
// strings, so a decoded NUL cut the part short without a word.
TEST(Uri, EncodedNulIsRefused) {
  for (const char* text : {"sqlite:///tmp/a.db%00.evil", "redis://u:pw%00x@h", "redis://h%00x",
                           "memory:?pass%00orm=1", "postgres://h/db?sslmode=require%00"}) {
    std::string e = parse_err(text);
    EXPECT_NE(e.find("encoded NUL byte"), std::string::npos) << text << ": " << e;
  }
  EXPECT_EQ(parse_err("redis://u:pw%00x@h").find("pw"), std::string::npos);
}

// Found by fuzzing (fuzz/corpus/uri/regress-encoded-secret-key): a parameter
// whose name is a password only once percent-decoded was shown in messages.
TEST(Uri, RedactionDecodesParameterNames) {
  EXPECT_EQ(redact_uri("redis://h?prefix=p&pass%77ord=hunter22&x=1"),
            "redis://h?prefix=p&pass%77ord=***&x=1");
  EXPECT_EQ(redact_uri("postgres://h/db?%70assword=s%65cret"), "postgres://h/db?%70assword=***");
}

// libpq's multi-host URIs (docs/postgres-driver.md): the whole list goes to
// the driver as the host, ports inside it; malformed lists are refused
// naming the entry.
TEST(Uri, HostListsAsLibpqWritesThem) {
  auto p = parse_ok("postgres://u:pw@h1:5432,h2:5433/db?schema=s&target_session_attrs=read-write");
  EXPECT_STREQ(p.as_c().host, "h1:5432,h2:5433");
  EXPECT_EQ(p.as_c().port, 0);
  EXPECT_STREQ(p.as_c().user, "u");
  EXPECT_STREQ(p.as_c().password, "pw");
  EXPECT_STREQ(p.as_c().path, "/db");
  ASSERT_EQ(p.as_c().param_count, 2u);
  EXPECT_EQ(std::string(p.as_c().redacted).find("pw@"), std::string::npos);
  EXPECT_STREQ(parse_ok("postgres://[::1]:5432,h2/db").as_c().host, "[::1]:5432,h2");
  EXPECT_STREQ(parse_ok("postgres://h1,h2:5433/db").as_c().host, "h1,h2:5433");
  EXPECT_STREQ(parse_ok("postgres://h%31,h2/db").as_c().host, "h1,h2");
  EXPECT_STREQ(parse_ok("postgres://h1:5432/db").as_c().host, "h1");
  for (const char* bad :
       {"postgres://h1:5432,,h2/db", "postgres://h1:5432,/db", "postgres://h1:0,h2/db",
        "postgres://h1:x,h2/db", "postgres://h1,[::1/db", "postgres://u:hunter2@h1:99999,h2/db"}) {
    std::string e = parse_err(bad);
    EXPECT_NE(e.find("malformed host list"), std::string::npos) << bad << ": " << e;
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  }
  EXPECT_NE(parse_err("postgres://h1:5432,h2:5433/db?a=1#x").find("fragment"), std::string::npos);
}
