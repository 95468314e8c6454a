# compare.cmake — evdb_abi_compare(): the one rule of the ABI check, used by
# check.cmake (libevdb against the committed baseline) and selfcheck.cmake.
#
# Dumps `lib` with abidw (public types: those declared in `headers`), then
# diffs `baseline` against it with abidiff. Added functions and variables,
# and structs grown only at their end, are allowed (--no-added-syms and
# suppressions.txt); anything removed or changed makes abidiff's exit status
# non-zero and the comparison fails. Sets `result_var` to "ok" or "changed"
# and `report_var` to abidiff's report.
function(evdb_abi_dump lib headers out)
  execute_process(
    COMMAND ${ABIDW} --headers-dir ${headers} --drop-private-types --exported-interfaces-only
            --no-corpus-path --short-locs --no-comp-dir-path --out-file ${out} ${lib}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "abidw ${lib} failed (${rc}): ${err}")
  endif()
endfunction()

function(evdb_abi_compare baseline lib headers out result_var report_var)
  evdb_abi_dump(${lib} ${headers} ${out})
  execute_process(
    COMMAND ${ABIDIFF} --no-added-syms --suppressions ${SUPPRESSIONS} ${baseline} ${out}
    RESULT_VARIABLE rc OUTPUT_VARIABLE report ERROR_VARIABLE err)
  # abidiff's status is a bit field: 1 error, 2 usage, 4 change, 8 incompatible.
  if(rc EQUAL 0)
    set(${result_var} ok PARENT_SCOPE)
  elseif(rc EQUAL 1 OR rc EQUAL 2 OR rc EQUAL 3)
    message(FATAL_ERROR "abidiff ${baseline} ${out} failed to run (${rc}): ${err}")
  else()
    set(${result_var} changed PARENT_SCOPE)
  endif()
  set(${report_var} "${report}" PARENT_SCOPE)
endfunction()

# True when `lib` has DWARF (abidw needs it to see types, not only symbols).
function(evdb_abi_has_debug_info lib out_var)
  execute_process(COMMAND readelf -S ${lib} OUTPUT_VARIABLE sections RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND sections MATCHES "\\.debug_info")
    set(${out_var} TRUE PARENT_SCOPE)
  else()
    set(${out_var} FALSE PARENT_SCOPE)
  endif()
endfunction()
