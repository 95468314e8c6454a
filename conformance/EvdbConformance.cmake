# EvdbConformance.cmake — evdb_add_conformance_test(): registers the evdb
# conformance suite as ctest tests, one per category.
#
#   evdb_add_conformance_test(NAME <name> URI <uri> [DRIVER <file>]
#                             [FIXTURES <fixture>...] [ENVIRONMENT <k=v>...])
#
# Adds the tests conformance.<name>.<Category> (Category in
# EVDB_CONFORMANCE_CATEGORIES), each running
#   evdb-conformance --uri <uri> [--driver <file>] --gtest_filter=<Category>.*
# <uri> should contain {unique} (replaced by a fresh store id per test).
# DRIVER may be a path or a generator expression ($<TARGET_FILE:my_driver>).
# FIXTURES become FIXTURES_REQUIRED (e.g. a fixture that starts a server);
# ENVIRONMENT entries are set for the runner. A category whose every test was
# skipped (e.g. Durability on a non-durable store) is reported by ctest as
# skipped.
#
# The runner is, in order: the target evdb-conformance (evdb's build tree),
# the imported target evdb::evdb-conformance (an installed evdb package, found
# with find_package(evdb)), or the file in EVDB_CONFORMANCE_RUNNER (a cache
# variable you may set by hand).
#
# In an installed package this file is lib/cmake/evdb/evdbConformance.cmake and
# is included by evdbConfig.cmake, which makes the function available after
# find_package(evdb).

if(NOT TARGET evdb-conformance AND NOT TARGET evdb::evdb-conformance
   AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/evdbConformanceTargets.cmake")
  # Installed package: the suite library and the runner as imported targets.
  find_package(GTest QUIET)
  find_package(simdjson QUIET)
  include("${CMAKE_CURRENT_LIST_DIR}/evdbConformanceTargets.cmake")
endif()

# The categories of the suite (GoogleTest suite names); keep in sync with
# categories() in conformance/src/harness.cpp (a runner test checks it).
# Also kept in a global property: the function runs in the caller's directory
# scope, where this file's variables are not visible.
set(EVDB_CONFORMANCE_CATEGORIES
  EmptyStore Append RoundTrip Reads Projections Transactions ReadOnly Snapshot
  RacingWriters TwoHandles Listener Durability CrossProcess BadInput Errors)
set_property(GLOBAL PROPERTY EVDB_CONFORMANCE_CATEGORIES "${EVDB_CONFORMANCE_CATEGORIES}")

set(EVDB_CONFORMANCE_RUNNER "" CACHE FILEPATH
  "evdb-conformance executable to use when neither the evdb-conformance target nor evdb::evdb-conformance exists")

function(evdb_add_conformance_test)
  cmake_parse_arguments(ARG "" "NAME;URI;DRIVER" "FIXTURES;ENVIRONMENT" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "evdb_add_conformance_test: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_NAME)
    message(FATAL_ERROR "evdb_add_conformance_test: NAME is required")
  endif()
  if(NOT ARG_URI)
    message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): URI is required")
  endif()
  if(NOT ARG_URI MATCHES "\\{unique\\}")
    message(WARNING "evdb_add_conformance_test(${ARG_NAME}): URI '${ARG_URI}' has no {unique}: "
                    "every test would share one store")
  endif()

  if(TARGET evdb-conformance)
    set(runner "$<TARGET_FILE:evdb-conformance>")
  elseif(TARGET evdb::evdb-conformance)
    set(runner "$<TARGET_FILE:evdb::evdb-conformance>")
  elseif(EVDB_CONFORMANCE_RUNNER)
    set(runner "${EVDB_CONFORMANCE_RUNNER}")
  else()
    message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): no evdb-conformance runner: "
                        "build evdb with EVDB_BUILD_CONFORMANCE=ON, find_package(evdb) an "
                        "installed evdb with the suite, or set EVDB_CONFORMANCE_RUNNER")
  endif()

  set(driver_args "")
  if(ARG_DRIVER)
    set(driver_args --driver "${ARG_DRIVER}")
  endif()

  get_property(categories GLOBAL PROPERTY EVDB_CONFORMANCE_CATEGORIES)
  foreach(category IN LISTS categories)
    set(test conformance.${ARG_NAME}.${category})
    add_test(NAME ${test}
      COMMAND ${runner} --uri "${ARG_URI}" ${driver_args} "--gtest_filter=${category}.*")
    set_tests_properties(${test} PROPERTIES
      LABELS "conformance;conformance.${ARG_NAME}"
      SKIP_REGULAR_EXPRESSION "evdb-conformance: every selected test was skipped"
      TIMEOUT 600)
    if(ARG_FIXTURES)
      set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
    endif()
    if(ARG_ENVIRONMENT)
      set_tests_properties(${test} PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
    endif()
  endforeach()
endfunction()
