// Unit tests of the tool's formatting and exit-code mapping (no libevdb).
#include "format.hpp"
#include "exit_codes.hpp"

#include <gtest/gtest.h>

namespace evdb::cli {
namespace {

TEST(Format, ParseFormat) {
  EXPECT_EQ(parse_format("text"), Format::Text);
  EXPECT_EQ(parse_format("json"), Format::Json);
  EXPECT_FALSE(parse_format("JSON").has_value());
  EXPECT_FALSE(parse_format("").has_value());
}

TEST(Format, TimeIsIso8601WithMicroseconds) {
  EXPECT_EQ(format_time(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_time(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(format_time(951'782'400'000'001), "2000-02-29T00:00:00.000001Z");
  EXPECT_EQ(format_time(-5), "-5us");
  EXPECT_EQ(format_time(INT64_MAX), std::to_string(INT64_MAX) + "us");
}

TEST(Format, JsonStringEscapes) {
  EXPECT_EQ(json_string(""), "\"\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("l1\nl2\t\r"), "\"l1\\nl2\\t\\r\"");
  EXPECT_EQ(json_string(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json_string("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");  // UTF-8 passes through
}

TEST(Format, JsonOneLineOnlyReplacesLineBreaks) {
  EXPECT_EQ(json_one_line("{\n  \"a\": 1\r\n}"), "{   \"a\": 1  }");
  EXPECT_EQ(json_one_line(R"({"a":"x\ny"})"), R"({"a":"x\ny"})");  // escaped: untouched
}

TEST(Format, EventJsonEmbedsPayloadAsJson) {
  evdb::Event e{7, 0, "Deposited", "{\"amount\": 5,\n\"to\":\"a\"}", "abc123"};
  EXPECT_EQ(event_json(e),
            "{\"version\":7,\"time_us\":0,\"time\":\"1970-01-01T00:00:00.000000Z\","
            "\"type\":\"Deposited\",\"revision\":\"abc123\","
            "\"payload\":{\"amount\": 5, \"to\":\"a\"}}");
  evdb::Event q{1, 0, "T\"q", "[1,2]", ""};
  EXPECT_NE(event_json(q).find("\"type\":\"T\\\"q\""), std::string::npos);
  EXPECT_NE(event_json(q).find("\"payload\":[1,2]}"), std::string::npos);
}

TEST(Format, EventTextColumns) {
  evdb::Event e{42, 1'700'000'000'000'000, "AccountOpened", "{\"id\":1}", ""};
  std::string line = event_text(e);
  EXPECT_EQ(line.substr(0, 7), "     42");
  EXPECT_NE(line.find("2023-11-14T22:13:20.000000Z"), std::string::npos);
  EXPECT_NE(line.find("AccountOpened"), std::string::npos);
  EXPECT_NE(line.find("  -  "), std::string::npos);  // empty revision
  EXPECT_EQ(line.substr(line.size() - 8), "{\"id\":1}");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  // The header's columns line up with the rows'.
  std::string header = event_text_header();
  EXPECT_EQ(header.find("TIME"), line.find("2023"));
  EXPECT_EQ(header.find("TYPE"), line.find("AccountOpened"));
  EXPECT_EQ(header.find("PAYLOAD"), line.find("{\"id\""));
  // Control characters in user text do not break the line.
  evdb::Event odd{1, 0, "a\nb", "1", "r\n"};
  EXPECT_EQ(event_text(odd).find('\n'), std::string::npos);
}

TEST(Format, CapabilityNames) {
  EXPECT_EQ(capability_names(0), "none");
  EXPECT_EQ(capability_names(EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS), "listener,gapless");
  EXPECT_EQ(capability_names(EVDB_CAP_DURABLE | EVDB_CAP_CROSS_PROCESS |
                             EVDB_CAP_BYTE_EXACT_PAYLOAD | EVDB_CAP_LISTENER_RECONNECT),
            "durable,cross-process,byte-exact-payload,listener-reconnect");
  EXPECT_EQ(capability_names(EVDB_CAP_LISTENER | (uint64_t{1} << 40)), "listener,bit40");
}

TEST(Format, ParseInt) {
  EXPECT_EQ(parse_int("0", 0, 10), 0);
  EXPECT_EQ(parse_int("+7", 0, 10), 7);
  EXPECT_EQ(parse_int("-3", -5, 10), -3);
  EXPECT_FALSE(parse_int("", 0, 10));
  EXPECT_FALSE(parse_int("+", 0, 10));
  EXPECT_FALSE(parse_int("11", 0, 10));
  EXPECT_FALSE(parse_int("5x", 0, 10));
  EXPECT_FALSE(parse_int("99999999999999999999", INT64_MIN, INT64_MAX));
}

TEST(ExitCodes, EveryStatusHasItsDocumentedCode) {
  EXPECT_EQ(exit_code_for(EVDB_OK), 0);
  EXPECT_EQ(exit_code_for(EVDB_NOT_FOUND), 2);
  EXPECT_EQ(exit_code_for(EVDB_VERSION_MISMATCH), 3);
  EXPECT_EQ(exit_code_for(EVDB_CONFLICT), 3);
  EXPECT_EQ(exit_code_for(EVDB_CONNECTION), 4);
  EXPECT_EQ(exit_code_for(EVDB_INVALID_ARGUMENT), 5);
  EXPECT_EQ(exit_code_for(EVDB_DRIVER_NOT_FOUND), 6);
  EXPECT_EQ(exit_code_for(EVDB_DRIVER_ABI_MISMATCH), 6);
  EXPECT_EQ(exit_code_for(EVDB_DEADLINE_EXCEEDED), 7);
  EXPECT_EQ(exit_code_for(EVDB_UNSUPPORTED), 8);
  EXPECT_EQ(exit_code_for(EVDB_READ_ONLY), 8);
  EXPECT_EQ(exit_code_for(EVDB_COMMIT_IN_DOUBT), 9);
  EXPECT_EQ(exit_code_for(EVDB_INTERNAL), 10);
  EXPECT_EQ(exit_code_for(static_cast<evdb_status>(999)), 10);
  EXPECT_EQ(exit_code_for(EVDB_CANCELED), 130);
  // Every code is in the help text.
  std::string help = exit_codes_help();
  for (const char* c : {"  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  7 ", "  8 ",
                        "  9 ", "  10 ", "  130 "})
    EXPECT_NE(help.find(c), std::string::npos) << c;
}

}  // namespace
}  // namespace evdb::cli

TEST(DisplayWidth, CountsColumnsNotBytes) {
  EXPECT_EQ(evdb::cli::display_width(""), 0u);
  EXPECT_EQ(evdb::cli::display_width("Deposited"), 9u);
  EXPECT_EQ(evdb::cli::display_width("\xC3\x9C"
                                     "berweisung"),
            11u);  // Überweisung
  EXPECT_EQ(evdb::cli::display_width("U\xCC\x88"
                                     "berweisung"),
            11u);                                                       // U + combining diaeresis
  EXPECT_EQ(evdb::cli::display_width("\xE6\xB3\xA8\xE6\x96\x87"), 4u);  // 注文
  EXPECT_EQ(evdb::cli::display_width("\xF0\x9F\x9A\x80"), 2u);          // 🚀
  EXPECT_EQ(evdb::cli::display_width("a\xFF"
                                     "b"),
            3u);                                        // not UTF-8
  EXPECT_EQ(evdb::cli::display_width("\xE6\xB3"), 2u);  // truncated
}

TEST(EventText, ColumnsAlignByDisplayWidth) {
  // The revision column starts at the same terminal column whatever the
  // type name's script.
  auto column_of_revision = [](const std::string& type) {
    evdb::Event e;
    e.version = 1;
    e.time_us = 1;
    e.type_name = type;
    e.revision_vcs = "REV";
    e.payload = "{}";
    std::string line = evdb::cli::event_text(e);
    return evdb::cli::display_width(line.substr(0, line.find("REV")));
  };
  size_t ascii = column_of_revision("Deposited");
  EXPECT_EQ(column_of_revision("\xC3\x9C"
                               "berweisung"),
            ascii);
  EXPECT_EQ(column_of_revision(
                "\xE6\xB3\xA8\xE6\x96\x87\xE3\x81\x8C\xE5\xB1\x8A\xE3\x81\x84\xE3\x81\x9F"),
            ascii);  // 注文が届いた
}
