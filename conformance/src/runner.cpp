// runner.cpp — run_main(): command line, --list, the per-category summary, and
// the hidden --child-append mode.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

#include "harness.hpp"

namespace evdb::conformance {
namespace {

const char kUsage[] =
    "usage: evdb-conformance --uri URI [--driver FILE] [--list] [gtest flags]\n"
    "\n"
    "Runs the evdb conformance suite against the store at URI. Every \"{unique}\"\n"
    "in URI is replaced by a fresh id per test (e.g. 'memory:{unique}',\n"
    "'sqlite:///tmp/evdb-{unique}.db', 'postgres://localhost/db?schema={unique}').\n"
    "\n"
    "  --uri URI      the store to test (required unless --list)\n"
    "  --driver FILE  load this driver file first (evdb_driver_load_file)\n"
    "  --list         print the tests grouped by category and exit\n"
    "  --help         this text\n"
    "GoogleTest flags work as usual, e.g. --gtest_filter=Listener.*,\n"
    "--gtest_output=xml:report.xml, --gtest_repeat=10.\n"
    "Exit status: 0 all selected tests passed or were skipped, 1 a test failed,\n"
    "2 bad usage or the store cannot be opened.\n";

// One test's outcome, for the summary.
struct Row {
  std::string name;
  std::string detail;  // skip reason or first failure
};
struct CategoryTally {
  int passed = 0;
  std::vector<Row> skipped, failed;
};

// First line of a (possibly multi-line) message, trimmed to a sensible size.
std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > 300) line = line.substr(0, 297) + "...";
  return line;
}

// Collects results per category and prints a summary an author can paste
// into a bug report.
class SummaryPrinter : public ::testing::EmptyTestEventListener {
 public:
  SummaryPrinter(std::string header) : header_(std::move(header)) {}

  void OnTestEnd(const ::testing::TestInfo& info) override {
    const ::testing::TestResult* r = info.result();
    CategoryTally& c = tally_[info.test_suite_name()];
    std::string name = std::string(info.test_suite_name()) + "." + info.name();
    if (r->Skipped()) {
      std::string why;
      for (int i = 0; i < r->total_part_count(); ++i)
        if (r->GetTestPartResult(i).skipped()) why = r->GetTestPartResult(i).message();
      c.skipped.push_back({name, first_line(why.empty() ? "(no reason given)" : why)});
    } else if (r->Failed()) {
      std::string what;
      for (int i = 0; i < r->total_part_count() && what.empty(); ++i) {
        const auto& p = r->GetTestPartResult(i);
        if (!p.failed()) continue;
        std::ostringstream o;
        if (p.file_name()) o << p.file_name() << ":" << p.line_number() << ": ";
        o << first_line(p.message());
        what = o.str();
      }
      c.failed.push_back({name, what});
    } else {
      ++c.passed;
    }
  }

  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    int passed = 0, skipped = 0, failed = 0;
    std::ostringstream o;
    o << "\n==== evdb conformance summary ====\n" << header_;
    o << "category        passed  skipped  failed\n";
    // Categories in the suite's order, then any others.
    std::vector<std::string> order = categories();
    for (const auto& [name, t] : tally_)
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    for (const auto& name : order) {
      auto it = tally_.find(name);
      if (it == tally_.end()) continue;
      const CategoryTally& t = it->second;
      char line[128];
      std::snprintf(line, sizeof line, "%-15s %6d  %7zu  %6zu\n", name.c_str(), t.passed,
                    t.skipped.size(), t.failed.size());
      o << line;
      passed += t.passed;
      skipped += static_cast<int>(t.skipped.size());
      failed += static_cast<int>(t.failed.size());
    }
    char line[128];
    std::snprintf(line, sizeof line, "%-15s %6d  %7d  %6d\n", "TOTAL", passed, skipped, failed);
    o << line;
    bool any_skip = false;
    for (const auto& name : order) {
      auto it = tally_.find(name);
      if (it == tally_.end()) continue;
      for (const auto& r : it->second.skipped) {
        if (!any_skip) o << "skipped:\n";
        any_skip = true;
        o << "  " << r.name << ": " << r.detail << "\n";
      }
    }
    bool any_fail = false;
    for (const auto& name : order) {
      auto it = tally_.find(name);
      if (it == tally_.end()) continue;
      for (const auto& r : it->second.failed) {
        if (!any_fail) o << "failed:\n";
        any_fail = true;
        o << "  " << r.name << ": " << r.detail << "\n";
      }
    }
    if (passed == 0 && failed == 0 && skipped > 0)
      o << "evdb-conformance: every selected test was skipped\n";
    o << "==================================\n";
    std::cout << o.str() << std::flush;
  }

 private:
  std::string header_;
  std::map<std::string, CategoryTally> tally_;
};

// Takes "--name VALUE" or "--name=VALUE" at argv[i]; advances i.
bool take_value(int argc, char** argv, int& i, const char* name, std::string& out, bool& missing) {
  size_t n = std::strlen(name);
  if (std::strncmp(argv[i], name, n) != 0) return false;
  if (argv[i][n] == '=') {
    out = argv[i] + n + 1;
    return true;
  }
  if (argv[i][n] != '\0') return false;
  if (i + 1 >= argc) {
    missing = true;
    return true;
  }
  out = argv[++i];
  return true;
}

std::string self_exe_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  buf[n] = '\0';
  return buf;
}

void print_list() {
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  std::map<std::string, std::vector<std::string>> by_cat;
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const ::testing::TestSuite* s = u.GetTestSuite(i);
    for (int j = 0; j < s->total_test_count(); ++j)
      by_cat[s->name()].push_back(std::string(s->name()) + "." + s->GetTestInfo(j)->name());
  }
  std::vector<std::string> order = categories();
  for (const auto& [name, tests] : by_cat)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  size_t total = 0;
  for (const auto& name : order) {
    auto it = by_cat.find(name);
    if (it == by_cat.end()) continue;
    std::cout << name << " (" << it->second.size() << " tests)\n";
    for (const auto& t : it->second) std::cout << "  " << t << "\n";
    total += it->second.size();
  }
  std::cout << total << " tests in " << by_cat.size() << " categories\n";
}

}  // namespace

int run_main(int argc, char** argv) {
  // Keep every test file linked in (see harness.hpp).
  volatile int anchors = link_basic() + link_projections() + link_transactions() +
                         link_concurrency() + link_listener() + link_durability() +
                         link_bad_input();
  (void)anchors;

  Settings& s = settings();
  s.self_exe = self_exe_path();
  bool list = false, child = false, help = false, missing = false;
  std::string count_text = "0", tag = "child";
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (take_value(argc, argv, i, "--uri", s.uri_template, missing)) continue;
    if (take_value(argc, argv, i, "--driver", s.driver_file, missing)) continue;
    if (take_value(argc, argv, i, "--count", count_text, missing)) continue;
    if (take_value(argc, argv, i, "--tag", tag, missing)) continue;
    if (a == "--list") {
      list = true;
    } else if (a == "--child-append") {
      child = true;
    } else if (a == "--help" || a == "-h") {
      help = true;
    } else if (a.rfind("--gtest", 0) == 0) {
      rest.push_back(argv[i]);
    } else {
      std::cerr << "evdb-conformance: unknown argument '" << a << "'\n\n" << kUsage;
      return 2;
    }
  }
  if (missing) {
    std::cerr << "evdb-conformance: an option is missing its value\n\n" << kUsage;
    return 2;
  }
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  int gargc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  ::testing::InitGoogleTest(&gargc, rest.data());

  if (list) {
    print_list();
    return 0;
  }
  if (s.uri_template.empty()) {
    std::cerr << "evdb-conformance: --uri is required, e.g. --uri 'memory:{unique}'\n\n" << kUsage;
    return 2;
  }
  if (!s.driver_file.empty()) {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status st = evdb_driver_load_file(s.driver_file.c_str(), &err);
    if (st != EVDB_OK) {
      std::cerr << "evdb-conformance: cannot load driver '" << s.driver_file
                << "': " << evdb_status_name(st) << ": " << (err.message ? err.message : "")
                << "\n";
      evdb_error_release(&err);
      return 2;
    }
  }
  if (child) {
    char* end = nullptr;
    long count = std::strtol(count_text.c_str(), &end, 10);
    if (end == count_text.c_str() || *end != '\0' || count < 0 || count > 1000000) {
      std::cerr << "evdb-conformance: --count must be a number in [0, 1000000], got '" << count_text
                << "'\n";
      return 2;
    }
    return child_append(s.uri_template, static_cast<int>(count), tag);
  }
  if (s.uri_template.find(kUniqueToken) == std::string::npos)
    std::cerr << "evdb-conformance: warning: the URI has no {unique}: every test uses the same "
                 "store, so tests that expect an empty store will fail\n";

  // Open one store first: a URI that cannot work is reported once, clearly.
  std::string probe_uri = expand_uri(s.uri_template, next_unique_id());
  std::string header;
  try {
    evdb::DB db = evdb::DB::open(probe_uri);
    header = "driver:       " + db.driver_name() + "\n" +
             "capabilities: " + capability_names(db.capabilities()) + "\n" +
             "uri:          " + redact_uri(s.uri_template) + "\n";
  } catch (const evdb::Error& e) {
    std::cerr << "evdb-conformance: cannot open " << redact_uri(probe_uri) << " (from --uri "
              << redact_uri(s.uri_template) << "): " << evdb_status_name(e.code()) << ": "
              << e.what() << "\n";
    return 2;
  }
  std::cout << "evdb-conformance\n" << header << std::flush;

  ::testing::UnitTest::GetInstance()->listeners().Append(new SummaryPrinter(header));
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}

}  // namespace evdb::conformance
