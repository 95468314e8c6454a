# EvdbConformance.cmake — evdb_add_conformance_test(): registers the evdb
# conformance suite as ctest tests, one per category.
#
#   evdb_add_conformance_test(NAME <name> URI <uri> [DRIVER <file>]
#                             [FIXTURES <fixture>...] [ENVIRONMENT <k=v>...]
#                             [REPEAT <n>] [SHUFFLE] [ISOLATE category|test|none]
#                             [SANITIZE <address|undefined|thread>...]
#                             [ARGS <runner argument>...])
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
# Testing a driver hard (docs/conformance.md, "Testing a driver hard"):
#   REPEAT <n>   runs every test n times (--gtest_repeat=n): races and
#                use-after-free that one run misses show up in one of many.
#   SHUFFLE      runs the tests in a random order each repetition
#                (--gtest_shuffle; the seed is printed, replay it with
#                ARGS --gtest_random_seed=<seed>).
#   ISOLATE      test: every test in a process of its own (slower; a crash
#                then names exactly one test); default category.
#   SANITIZE     preloads the sanitizer runtimes into the runner, for a
#                driver built with -fsanitize=<the same> (the runner itself
#                needs no rebuild): address (also leaks), undefined, thread.
#                The runtime is found with `<compiler> -print-file-name`.
#   ARGS         any other runner arguments.
#
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

# In evdb_add_conformance_test: when ARG_<option> is set, checks it against
# `pattern` and appends "<flag>=<value>" to driver_args.
macro(_evdb_conformance_flag option pattern expected flag)
  if(ARG_${option})
    if(NOT ARG_${option} MATCHES "${pattern}")
      message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): ${option} takes ${expected}, "
                          "not '${ARG_${option}}'")
    endif()
    list(APPEND driver_args "${flag}=${ARG_${option}}")
  endif()
endmacro()

function(evdb_add_conformance_test)
  cmake_parse_arguments(ARG "SHUFFLE" "NAME;URI;DRIVER;REPEAT;ISOLATE"
                        "FIXTURES;ENVIRONMENT;SANITIZE;ARGS" ${ARGN})
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
  _evdb_conformance_flag(REPEAT "^[1-9][0-9]*$" "a positive number" --gtest_repeat)
  if(ARG_SHUFFLE)
    list(APPEND driver_args --gtest_shuffle)
  endif()
  _evdb_conformance_flag(ISOLATE "^(category|test|none)$" "category, test or none" --isolate)
  list(APPEND driver_args ${ARG_ARGS})

  # SANITIZE: the runtimes to preload, and options that make a finding fail
  # the test.
  set(environment ${ARG_ENVIRONMENT})
  if(ARG_SANITIZE)
    if(CMAKE_C_COMPILER)
      set(compiler "${CMAKE_C_COMPILER}")
    else()
      set(compiler "${CMAKE_CXX_COMPILER}")
    endif()
    set(preload "")
    foreach(sanitizer IN LISTS ARG_SANITIZE)
      if(sanitizer STREQUAL "address")
        set(runtime libasan.so)
        list(APPEND environment "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1")
      elseif(sanitizer STREQUAL "undefined")
        set(runtime libubsan.so)
        list(APPEND environment "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
      elseif(sanitizer STREQUAL "thread")
        set(runtime libtsan.so)
        list(APPEND environment "TSAN_OPTIONS=halt_on_error=1")
      else()
        message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): SANITIZE takes address, "
                            "undefined or thread, not '${sanitizer}'")
      endif()
      execute_process(COMMAND "${compiler}" -print-file-name=${runtime}
        OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(NOT IS_ABSOLUTE "${path}" OR NOT EXISTS "${path}")
        message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): SANITIZE ${sanitizer}: "
                            "${compiler} does not know where ${runtime} is (install the "
                            "compiler's sanitizer runtime)")
      endif()
      # Preload the real file, not the linker script or symlink chain.
      get_filename_component(path "${path}" REALPATH)
      list(APPEND preload "${path}")
    endforeach()
    if("thread" IN_LIST ARG_SANITIZE AND "address" IN_LIST ARG_SANITIZE)
      message(FATAL_ERROR "evdb_add_conformance_test(${ARG_NAME}): SANITIZE thread and address "
                          "cannot run in one process; add two tests")
    endif()
    string(REPLACE ";" ":" preload "${preload}")
    list(APPEND environment "LD_PRELOAD=${preload}")
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
    if(environment)
      set_tests_properties(${test} PROPERTIES ENVIRONMENT "${environment}")
    endif()
  endforeach()
endfunction()
