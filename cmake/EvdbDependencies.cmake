# Every third-party dependency of evdb, found once, here, one way each:
#
# - find_package(... CONFIG) for libraries whose own CMake package is how their
#   users are meant to consume them (GoogleTest, Google Benchmark, CLI11,
#   simdjson, Boost). simdjson also ships a .pc file; its CMake package is the
#   one used because the installed evdb::conformance target names
#   simdjson::simdjson, so evdb's users find it the same way.
# - pkg-config for C libraries that ship only a .pc file (sqlite3, libpq,
#   libpqxx, hiredis, liburiparser).
#
# Only what the enabled options need is looked for; a missing dependency of an
# enabled part stops the configure with the option that needs it.
#
# Targets for the rest of the build: Threads::Threads, Boost::headers,
# simdjson::simdjson, PkgConfig::URIPARSER, PkgConfig::SQLITE3, PkgConfig::PQ,
# PkgConfig::PQXX, PkgConfig::HIREDIS, GTest::gtest(_main), GTest::gmock,
# benchmark::benchmark, CLI11::CLI11.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# evdb_pkg_config(<PREFIX> <module> <needed by> <Debian package>) and
# evdb_find_package(<Package> <needed by> <Debian package> [version]) find one
# dependency; on failure they say which part needs it and which Debian package
# provides it.
macro(evdb_pkg_config NAME MODULE NEEDED_BY DEB)
  pkg_check_modules(${NAME} QUIET IMPORTED_TARGET ${MODULE})
  if(NOT ${NAME}_FOUND)
    message(FATAL_ERROR "${NEEDED_BY} needs ${MODULE} (pkg-config module '${MODULE}', Debian "
                        "package ${DEB}): install it (scripts/install-deps) or switch that part off")
  endif()
  message(STATUS "Found ${MODULE} ${${NAME}_VERSION} (pkg-config)")
endmacro()
macro(evdb_find_package PACKAGE NEEDED_BY DEB)
  find_package(${PACKAGE} ${ARGN} CONFIG QUIET)
  if(NOT ${PACKAGE}_FOUND)
    message(FATAL_ERROR "${NEEDED_BY} needs ${PACKAGE} ${ARGN} (its CMake package, Debian "
                        "package ${DEB}): install it (scripts/install-deps) or switch that part off")
  endif()
  message(STATUS "Found ${PACKAGE} ${${PACKAGE}_VERSION} (CMake package)")
endmacro()

# libevdb itself.
evdb_find_package(Boost "libevdb" libboost-dev 1.74)
evdb_find_package(simdjson "libevdb" libsimdjson-dev)
evdb_pkg_config(URIPARSER liburiparser "libevdb" liburiparser-dev)

if(EVDB_DRIVER_SQLITE)
  evdb_pkg_config(SQLITE3 sqlite3 "EVDB_DRIVER_SQLITE" libsqlite3-dev)
endif()
if(EVDB_DRIVER_POSTGRES)
  evdb_pkg_config(PQ libpq "EVDB_DRIVER_POSTGRES" libpq-dev)
  evdb_pkg_config(PQXX libpqxx "EVDB_DRIVER_POSTGRES" libpqxx-dev)
endif()
if(EVDB_DRIVER_REDIS)
  evdb_pkg_config(HIREDIS hiredis "EVDB_DRIVER_REDIS" libhiredis-dev)
endif()
if(EVDB_BUILD_TESTS OR EVDB_BUILD_CONFORMANCE)
  evdb_find_package(GTest "EVDB_BUILD_TESTS / EVDB_BUILD_CONFORMANCE" "libgtest-dev libgmock-dev")
endif()
if(EVDB_BUILD_TESTS AND EVDB_BUILD_CONFORMANCE)
  evdb_find_package(rapidcheck "EVDB_BUILD_TESTS (the model-based test)" librapidcheck-dev)
endif()
if(EVDB_BUILD_TOOLS OR EVDB_BUILD_EXAMPLES)
  evdb_find_package(CLI11 "EVDB_BUILD_TOOLS / EVDB_BUILD_EXAMPLES" libcli11-dev)
endif()
if(EVDB_BUILD_BENCH)
  evdb_find_package(benchmark "EVDB_BUILD_BENCH" libbenchmark-dev)
endif()
