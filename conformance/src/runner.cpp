// runner.cpp — run_main(): command line, --list, the per-category summary, and
// the hidden --child-append mode.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "harness.hpp"

extern char** environ;

namespace evdb::conformance {
namespace {

const char kUsage[] =
    "usage: evdb-conformance --uri URI [--driver FILE] [--isolate category|test|none]\n"
    "                        [--list] [gtest flags]\n"
    "\n"
    "Runs the evdb conformance suite against the store at URI. Every \"{unique}\"\n"
    "in URI is replaced by a fresh id per test (e.g. 'memory:{unique}',\n"
    "'sqlite:///tmp/evdb-{unique}.db', 'postgres://localhost/db?schema={unique}').\n"
    "\n"
    "  --uri URI      the store to test (required unless --list)\n"
    "  --driver FILE  load this driver file first (evdb_driver_load_file)\n"
    "  --isolate WHAT run each category (the default) or each test in a process\n"
    "                 of its own, so a crash fails only the test it happened in\n"
    "                 and the summary still prints; 'none' runs all in this one\n"
    "  --list         print the tests grouped by category and exit\n"
    "  --help         this text\n"
    "GoogleTest flags work as usual, e.g. --gtest_filter=Listener.*,\n"
    "--gtest_output=xml:report.xml, --gtest_repeat=10.\n"
    "Exit status: 0 all selected tests passed or were skipped, 1 a test failed,\n"
    "2 bad usage or the store cannot be opened.\n";

// How tests are spread over processes: see kUsage.
enum class Isolation { Category, Test, None };

// One test's outcome, for the summary.
struct Row {
  std::string name;
  std::string detail;  // skip reason or the failure's contract sentence
};
struct CategoryTally {
  int passed = 0;
  std::vector<Row> skipped, failed;
};

// Lines of `s`, each with its leading blanks removed.
std::vector<std::string> trimmed_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string::npos) lines.push_back(line.substr(b));
  }
  return lines;
}

std::string clip(std::string s) {
  if (s.size() > 400) s = s.substr(0, 397) + "...";
  return s;
}

// What one test did, as the summary shows it.
struct TestVerdict {
  enum Outcome { Passed, Skipped, Failed };
  std::string name;  // Category.Test
  Outcome outcome = Passed;
  std::string detail;  // skip reason or failure_summary(); one line
};

std::string failure_summary(const std::vector<std::string>& messages) {
  // The suite words its failures as "contract: …": that sentence is what an
  // author needs; GoogleTest's "Expected equality of these values:" and the
  // source location (a file the author does not have) are not.
  std::string first;
  for (const std::string& m : messages) {
    for (const std::string& line : trimmed_lines(m)) {
      size_t at = line.find("contract");
      if (at == std::string::npos) continue;
      std::string sentence = line.substr(at);
      // "Actual: false (contract: …)" from EXPECT_TRUE(assertion result).
      if (at > 0 && line[at - 1] == '(' && !sentence.empty() && sentence.back() == ')')
        sentence.pop_back();
      if (messages.size() > 1)
        sentence += " [+" + std::to_string(messages.size() - 1) + " more failure" +
                    (messages.size() > 2 ? "s" : "") + "]";
      return clip(sentence);
    }
    if (first.empty()) {
      for (const std::string& line : trimmed_lines(m)) first += (first.empty() ? "" : " / ") + line;
    }
  }
  return clip(first.empty() ? "(no message)" : first);
}

TestVerdict verdict_of(const ::testing::TestInfo& info) {
  const ::testing::TestResult* r = info.result();
  TestVerdict v;
  v.name = std::string(info.test_suite_name()) + "." + info.name();
  if (r->Skipped()) {
    v.outcome = TestVerdict::Skipped;
    for (int i = 0; i < r->total_part_count(); ++i)
      if (r->GetTestPartResult(i).skipped()) v.detail = r->GetTestPartResult(i).message();
    v.detail = v.detail.empty() ? "(no reason given)" : clip(trimmed_lines(v.detail).front());
  } else if (r->Failed()) {
    v.outcome = TestVerdict::Failed;
    std::vector<std::string> messages;
    for (int i = 0; i < r->total_part_count(); ++i)
      if (r->GetTestPartResult(i).failed()) messages.push_back(r->GetTestPartResult(i).message());
    v.detail = failure_summary(messages);
  }
  return v;
}

// Collects verdicts per category and prints a summary an author can paste
// into a bug report.
class Summary {
 public:
  void add(const TestVerdict& v) {
    std::string category = v.name.substr(0, v.name.find('.'));
    CategoryTally& c = tally_[category];
    switch (v.outcome) {
      case TestVerdict::Passed:
        ++c.passed;
        break;
      case TestVerdict::Skipped:
        c.skipped.push_back({v.name, v.detail});
        break;
      case TestVerdict::Failed:
        c.failed.push_back({v.name, v.detail});
        break;
    }
  }
  int failed() const {
    int n = 0;
    for (const auto& [name, t] : tally_) n += static_cast<int>(t.failed.size());
    return n;
  }

  void print(const std::string& header) const {
    int passed = 0, skipped = 0, failed = 0;
    std::ostringstream o;
    o << "\n==== evdb conformance summary ====\n" << header;
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
    auto rows = [&](const char* title, std::vector<Row> CategoryTally::*which) {
      bool any = false;
      for (const auto& name : order) {
        auto it = tally_.find(name);
        if (it == tally_.end()) continue;
        for (const auto& r : it->second.*which) {
          if (!any) o << title << ":\n";
          any = true;
          o << "  " << r.name << ": " << r.detail << "\n";
        }
      }
    };
    rows("skipped", &CategoryTally::skipped);
    rows("failed", &CategoryTally::failed);
    if (passed == 0 && failed == 0 && skipped > 0)
      o << "evdb-conformance: every selected test was skipped\n";
    o << "==================================\n";
    std::cout << o.str() << std::flush;
  }

 private:
  std::map<std::string, CategoryTally> tally_;
};

// In-process runs (--isolate none): tallies each test as it ends and prints
// the summary at the end.
class SummaryPrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit SummaryPrinter(std::string header) : header_(std::move(header)) {}
  void OnTestEnd(const ::testing::TestInfo& info) override { summary_.add(verdict_of(info)); }
  void OnTestProgramEnd(const ::testing::UnitTest&) override { summary_.print(header_); }

 private:
  std::string header_;
  Summary summary_;
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

// ---- running tests in child processes (--isolate) ----------------------------

// GoogleTest's filter syntax: "POS1:POS2-NEG1:NEG2", '*' and '?' wildcards.
bool glob_match(const char* p, const char* s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return glob_match(p + 1, s) || (*s != '\0' && glob_match(p, s + 1));
  if (*s == '\0') return false;
  return (*p == '?' || *p == *s) && glob_match(p + 1, s + 1);
}
bool matches_any(const std::string& patterns, const std::string& name) {
  std::istringstream in(patterns);
  for (std::string p; std::getline(in, p, ':');)
    if (glob_match(p.c_str(), name.c_str())) return true;
  return false;
}
bool filter_selects(const std::string& filter, const std::string& name) {
  size_t dash = filter.find('-');
  std::string pos = filter.substr(0, dash), neg;
  if (dash != std::string::npos) neg = filter.substr(dash + 1);
  if (pos.empty()) pos = "*";
  return matches_any(pos, name) && !matches_any(neg, name);
}

// One child process's share of the run: tests of one category, or one test.
struct Unit {
  std::vector<std::string> tests;
};

std::vector<Unit> plan_units(Isolation isolate, const std::string& filter) {
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  std::vector<Unit> units;
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const ::testing::TestSuite* s = u.GetTestSuite(i);
    Unit category;
    for (int j = 0; j < s->total_test_count(); ++j) {
      std::string name = std::string(s->name()) + "." + s->GetTestInfo(j)->name();
      if (name.rfind("DISABLED_", 0) == 0 || name.find(".DISABLED_") != std::string::npos) continue;
      if (!filter_selects(filter, name)) continue;
      if (isolate == Isolation::Test)
        units.push_back(Unit{{name}});
      else
        category.tests.push_back(name);
    }
    if (!category.tests.empty()) units.push_back(std::move(category));
  }
  return units;
}

// The child's side: writes "start\tNAME" before and "end\tNAME\tP|S|F\tDETAIL"
// after each test to the report file, unbuffered, so that what was running
// when the process died is on disk.
class ChildReporter : public ::testing::EmptyTestEventListener {
 public:
  explicit ChildReporter(int fd) : fd_(fd) {}
  void OnTestStart(const ::testing::TestInfo& info) override {
    put("start\t" + std::string(info.test_suite_name()) + "." + info.name() + "\n");
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    TestVerdict v = verdict_of(info);
    static const char code[] = {'P', 'S', 'F'};
    std::string detail = v.detail;
    for (char& c : detail)
      if (c == '\n' || c == '\t') c = ' ';
    put("end\t" + v.name + "\t" + code[v.outcome] + "\t" + detail + "\n");
  }

 private:
  void put(const std::string& line) {
    for (size_t off = 0; off < line.size();) {
      ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  int fd_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

std::string death_text(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    std::string text =
        "the test process died of signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
    if (sig == SIGABRT)
      text +=
          ": an abort, a C++ exception that escaped the driver (DRV-5) or a sanitizer "
          "report; see the log above";
    return text;
  }
  return "the test process exited with status " + std::to_string(WEXITSTATUS(status)) +
         " (a driver must not exit the process: DRV-5)";
}

// What one child process reported.
struct ChildRun {
  std::vector<TestVerdict> verdicts;
  std::set<std::string> started;
  std::string died;         // death_text() when it did not end normally
  std::string dying_test;   // the test running when it died ("" if none)
  std::string output_file;  // its --gtest_output file, when asked for
};

ChildRun run_child(const std::vector<std::string>& base_args, const std::vector<std::string>& tests,
                   const std::string& work, int serial, const std::string& output_format) {
  ChildRun run;
  std::string report = work + "/unit" + std::to_string(serial) + ".report";
  std::vector<std::string> args = base_args;
  args.push_back("--child-run=" + report);
  std::string filter;
  for (const auto& t : tests) filter += (filter.empty() ? "" : ":") + t;
  args.push_back("--gtest_filter=" + filter);
  if (!output_format.empty()) {
    run.output_file = work + "/unit" + std::to_string(serial) + "." + output_format;
    args.push_back("--gtest_output=" + output_format + ":" + run.output_file);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout << std::flush;
  std::cerr << std::flush;
  pid_t pid = -1;
  int status = 0;
  if (::posix_spawn(&pid, settings().self_exe.c_str(), nullptr, nullptr, argv.data(), environ) !=
          0 ||
      ::waitpid(pid, &status, 0) != pid) {
    run.died = std::string("cannot run the test process: ") + std::strerror(errno);
  } else if (!(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1))) {
    run.died = death_text(status);
  }
  std::istringstream in(read_file(report));
  std::string running;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() >= 2 && f[0] == "start") {
      running = f[1];
      run.started.insert(f[1]);
    } else if (f.size() >= 3 && f[0] == "end") {
      TestVerdict v;
      v.name = f[1];
      v.outcome = f[2] == "P"   ? TestVerdict::Passed
                  : f[2] == "S" ? TestVerdict::Skipped
                                : TestVerdict::Failed;
      v.detail = f.size() > 3 ? f[3] : "";
      run.verdicts.push_back(v);
      running.clear();
    }
  }
  std::remove(report.c_str());
  if (!run.died.empty()) run.dying_test = running;
  return run;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}
std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      o += ' ';
      continue;
    }
    o += c;
  }
  return o;
}

// The GoogleTest report of the whole run: the test suites of every child's
// report, plus an entry for each test whose process died (its own report
// then never got written).
bool write_merged_report(const std::string& format, const std::string& path,
                         const std::vector<ChildRun>& runs, int tests, int failures) {
  std::vector<std::string> parts;
  for (const ChildRun& r : runs) {
    std::string text = r.output_file.empty() ? "" : read_file(r.output_file);
    if (!r.output_file.empty()) std::remove(r.output_file.c_str());
    if (format == "xml") {
      for (size_t at = text.find("<testsuite "); at != std::string::npos;
           at = text.find("<testsuite ", at + 1)) {
        size_t end = text.find("</testsuite>", at);
        if (end == std::string::npos) break;
        parts.push_back(text.substr(at, end + 12 - at));
      }
    } else {
      size_t open = text.find("\"testsuites\": [");
      size_t close = text.rfind(']');
      if (open != std::string::npos && close != std::string::npos && close > open + 15) {
        std::string inner = text.substr(open + 15, close - open - 15);
        if (inner.find_first_not_of(" \n") != std::string::npos) parts.push_back(inner);
      }
    }
    if (r.died.empty()) continue;
    // Tests of a dead process: its report is missing or partial.
    std::vector<TestVerdict> lost = r.verdicts;
    if (!r.dying_test.empty()) lost.push_back({r.dying_test, TestVerdict::Failed, r.died});
    if (!text.empty() && r.dying_test.empty()) continue;  // died after writing its report
    for (const TestVerdict& v : lost) {
      std::string suite = v.name.substr(0, v.name.find('.')),
                  test = v.name.substr(suite.size() + 1);
      bool failed = v.outcome == TestVerdict::Failed;
      if (format == "xml") {
        std::string p = "  <testsuite name=\"" + xml_escape(suite) + "\" tests=\"1\" failures=\"" +
                        (failed ? "1" : "0") + "\" disabled=\"0\" skipped=\"" +
                        (v.outcome == TestVerdict::Skipped ? "1" : "0") +
                        "\" errors=\"0\" time=\"0\">\n    <testcase name=\"" + xml_escape(test) +
                        "\" status=\"run\" result=\"" +
                        (v.outcome == TestVerdict::Skipped ? "skipped" : "completed") +
                        "\" time=\"0\" classname=\"" + xml_escape(suite) + "\">\n";
        if (failed)
          p += "      <failure message=\"" + xml_escape(v.detail) + "\" type=\"\"></failure>\n";
        parts.push_back(p + "    </testcase>\n  </testsuite>");
      } else {
        std::string p = "    {\n      \"name\": \"" + json_escape(suite) +
                        "\",\n      \"tests\": 1,\n      \"failures\": " + (failed ? "1" : "0") +
                        ",\n      \"testsuite\": [\n        {\n          \"name\": \"" +
                        json_escape(test) + "\",\n          \"status\": \"RUN\",\n          " +
                        "\"result\": \"" +
                        (v.outcome == TestVerdict::Skipped ? "SKIPPED" : "COMPLETED") +
                        "\",\n          \"classname\": \"" + json_escape(suite) + "\"";
        if (failed)
          p += ",\n          \"failures\": [{\"failure\": \"" + json_escape(v.detail) +
               "\", \"type\": \"\"}]";
        parts.push_back(p + "\n        }\n      ]\n    }");
      }
    }
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  if (format == "xml") {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"" << tests
        << "\" failures=\"" << failures
        << "\" disabled=\"0\" errors=\"0\" time=\"0\" name=\"AllTests\">\n";
    for (const auto& p : parts) out << "  " << p << "\n";
    out << "</testsuites>\n";
  } else {
    out << "{\n  \"tests\": " << tests << ",\n  \"failures\": " << failures
        << ",\n  \"disabled\": 0,\n  \"errors\": 0,\n  \"name\": \"AllTests\",\n"
        << "  \"testsuites\": [\n";
    for (size_t i = 0; i < parts.size(); ++i) out << (i ? ",\n" : "") << parts[i];
    out << "\n  ]\n}\n";
  }
  return static_cast<bool>(out);
}

// The parent's side of --isolate category|test: runs each unit in a child
// process; when one dies, the test it was running is that test's failure and
// the unit's remaining tests run in a new process. Returns the exit status.
int run_isolated(Isolation isolate, const std::vector<std::string>& child_base,
                 const std::string& header) {
  std::string filter = ::testing::GTEST_FLAG(filter);
  std::string output = ::testing::GTEST_FLAG(output), format, output_path;
  if (!output.empty()) {
    format = output.substr(0, output.find(':'));
    if (format != "xml" && format != "json") format = "xml";
    output_path = output.find(':') == std::string::npos ? "" : output.substr(output.find(':') + 1);
    if (output_path.empty()) output_path = "test_detail." + format;
    if (output_path.back() == '/') output_path += "evdb-conformance." + format;
  }
  // The children get their own flags; none of them may read these.
  ::unsetenv("GTEST_OUTPUT");
  ::unsetenv("GTEST_FILTER");

  const char* tmp = std::getenv("TMPDIR");
  std::string work_template = std::string(tmp && *tmp ? tmp : "/tmp") + "/evdb-conformance.XXXXXX";
  std::vector<char> wt(work_template.begin(), work_template.end());
  wt.push_back('\0');
  char* work = ::mkdtemp(wt.data());
  if (work == nullptr) {
    std::cerr << "evdb-conformance: cannot make a temporary folder: " << std::strerror(errno)
              << "\n";
    return 2;
  }

  Summary summary;
  std::vector<ChildRun> runs;
  int serial = 0, tests = 0;
  for (const Unit& unit : plan_units(isolate, filter)) {
    std::vector<std::string> todo = unit.tests;
    while (!todo.empty()) {
      ChildRun r = run_child(child_base, todo, work, ++serial, format);
      for (const TestVerdict& v : r.verdicts) summary.add(v);
      tests += static_cast<int>(r.verdicts.size());
      std::vector<std::string> rest;
      if (!r.died.empty()) {
        if (!r.dying_test.empty()) {
          summary.add({r.dying_test, TestVerdict::Failed, r.died});
          ++tests;
          std::cout << "evdb-conformance: " << r.dying_test << ": " << r.died
                    << "; the tests after it run in a new process\n";
        } else if (r.started.empty()) {
          // Died before its first test: every test of the unit fails with it.
          for (const auto& t : todo) summary.add({t, TestVerdict::Failed, r.died});
          tests += static_cast<int>(todo.size());
          std::cout << "evdb-conformance: " << r.died << " before its first test\n";
        } else {
          std::cout << "evdb-conformance: " << r.died << " after its last test\n";
          summary.add({todo.front().substr(0, todo.front().find('.')) + ".(process exit)",
                       TestVerdict::Failed, r.died + " after its tests ended"});
        }
        if (!r.started.empty())
          for (const auto& t : todo)
            if (r.started.count(t) == 0) rest.push_back(t);
      }
      runs.push_back(std::move(r));
      todo = std::move(rest);
    }
  }
  if (!format.empty() && !write_merged_report(format, output_path, runs, tests, summary.failed()))
    std::cerr << "evdb-conformance: cannot write " << output_path << ": " << std::strerror(errno)
              << "\n";
  ::rmdir(work);
  summary.print(header);
  return summary.failed() == 0 ? 0 : 1;
}

}  // namespace

int run_main(int argc, char** argv) {
  // Keep every test file linked in (see harness.hpp).
  volatile int anchors = link_basic() + link_projections() + link_transactions() +
                         link_concurrency() + link_listener() + link_durability() +
                         link_bad_input() + link_errors();
  (void)anchors;

  Settings& s = settings();
  s.self_exe = self_exe_path();
  bool list = false, child = false, help = false, missing = false;
  std::string count_text = "0", tag = "child", isolate_text = "category", child_report;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (take_value(argc, argv, i, "--uri", s.uri_template, missing)) continue;
    if (take_value(argc, argv, i, "--driver", s.driver_file, missing)) continue;
    if (take_value(argc, argv, i, "--count", count_text, missing)) continue;
    if (take_value(argc, argv, i, "--tag", tag, missing)) continue;
    if (take_value(argc, argv, i, "--isolate", isolate_text, missing)) continue;
    if (take_value(argc, argv, i, "--child-run", child_report, missing)) continue;
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
  Isolation isolate = Isolation::Category;
  if (isolate_text == "test")
    isolate = Isolation::Test;
  else if (isolate_text == "none")
    isolate = Isolation::None;
  else if (isolate_text != "category") {
    std::cerr << "evdb-conformance: --isolate takes category, test or none, not '" << isolate_text
              << "'\n\n"
              << kUsage;
    return 2;
  }
  // What every child process of --isolate gets: this run's options and its
  // GoogleTest flags except the filter and the report (set per child).
  std::vector<std::string> child_base = {argv[0], "--uri=" + s.uri_template};
  if (!s.driver_file.empty()) child_base.push_back("--driver=" + s.driver_file);
  for (size_t i = 1; i < rest.size(); ++i) {
    std::string flag = rest[i];
    if (flag.rfind("--gtest_filter", 0) != 0 && flag.rfind("--gtest_output", 0) != 0)
      child_base.push_back(flag);
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
  if (!child_report.empty()) {
    // One share of an --isolate run: no probe, no summary (the parent
    // prints it); progress goes to the report file.
    int fd = ::open(child_report.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::cerr << "evdb-conformance: cannot write " << child_report << ": " << std::strerror(errno)
                << "\n";
      return 2;
    }
    ::testing::UnitTest::GetInstance()->listeners().Append(new ChildReporter(fd));
    return RUN_ALL_TESTS() == 0 ? 0 : 1;
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

  if (isolate != Isolation::None) return run_isolated(isolate, child_base, header);
  ::testing::UnitTest::GetInstance()->listeners().Append(new SummaryPrinter(header));
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}

}  // namespace evdb::conformance
