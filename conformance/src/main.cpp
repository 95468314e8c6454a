// main.cpp — the evdb-conformance runner (see evdb/conformance.hpp).
#include <evdb/conformance.hpp>

int main(int argc, char** argv) {
  return evdb::conformance::run_main(argc, argv);
}
