# Runs evdb-example-bank and checks its exit status and output.
#   cmake -DEXE=<binary> -DMODE=run   -DURI=<uri> -P test_bank.cmake
#   cmake -DEXE=<binary> -DMODE=twice -DURI=<uri> -DDB_FILE=<file> -P test_bank.cmake
#   cmake -DEXE=<binary> -DMODE=bad -P test_bank.cmake
# "{unique}" in URI is replaced by a fresh id (a new store per run). When
# SECRET is given (the URI's password), the output must not contain it.

string(RANDOM LENGTH 10 ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789" _id)
string(REPLACE "{unique}" "${_id}" URI "${URI}")

function(expect_match out regex what)
  if(NOT out MATCHES "${regex}")
    message(FATAL_ERROR "${what}: output does not match '${regex}':\n${out}")
  endif()
endfunction()

function(run_ok uri outvar)
  execute_process(COMMAND ${EXE} ${uri} --threads 4 --transfers 40
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} ${uri} exited with ${rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  expect_match("${out}" "store: +[^\n]*\\(driver [a-z]+" "store line")
  expect_match("${out}" "commands: +4 threads x 40 transfers: [0-9]+ committed, [0-9]+ rejected" "commands line")
  expect_match("${out}" "retries: +[0-9]+ \\([0-9]+ VersionMismatch, [0-9]+ Conflict\\)" "retries line")
  expect_match("${out}" "projection: at version [0-9]+ = head" "projection line")
  expect_match("${out}" "alice -?[0-9]+ +bob -?[0-9]+ +carol -?[0-9]+ +dave -?[0-9]+ +\\(total 4000, conserved\\)" "balances line")
  expect_match("${out}" "check: +OK" "check line")
  if(SECRET)
    string(FIND "${out}${err}" "${SECRET}" _at)
    if(NOT _at EQUAL -1)
      message(FATAL_ERROR "the password appears in the output:\n${out}${err}")
    endif()
  endif()
  set(${outvar} "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "run")
  run_ok(${URI} out)
  expect_match("${out}" "history: +0 events" "fresh store")
  expect_match("${out}" "accounts: +opened alice, bob, carol, dave with 1000 each" "accounts")
elseif(MODE STREQUAL "twice")
  file(REMOVE ${DB_FILE} ${DB_FILE}-wal ${DB_FILE}-shm)
  run_ok(${URI} first)
  expect_match("${first}" "history: +0 events" "first run")
  run_ok(${URI} second)
  # The second run rebuilds the projection from the first run's events.
  expect_match("${second}" "history: +[1-9][0-9]* events already in the store" "second run")
  expect_match("${second}" "alice, bob, carol, dave already open from an earlier run" "second run")
  file(REMOVE ${DB_FILE} ${DB_FILE}-wal ${DB_FILE}-shm)
elseif(MODE STREQUAL "bad")
  execute_process(COMMAND ${EXE} nosuchscheme:x RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 3 OR NOT err MATCHES "nosuchscheme")
    message(FATAL_ERROR "unknown scheme: expected exit 3 and a message naming it, got ${rc}: ${err}")
  endif()
  execute_process(COMMAND ${EXE} memory:x --threads 0 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "--threads 0: expected exit 2, got ${rc}: ${err}")
  endif()
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
