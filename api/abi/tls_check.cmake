# tls_check.cmake — ctest abi.no_initial_exec_tls: libevdb must load with
# dlopen at any time (Python ctypes, Go), so it uses no initial-exec TLS: no
# STATIC_TLS flag, no TPOFF relocations. -DLIB
execute_process(COMMAND readelf -dW ${LIB} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc1)
execute_process(COMMAND readelf -rW ${LIB} OUTPUT_VARIABLE rel RESULT_VARIABLE rc2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "readelf ${LIB} failed")
endif()
if(dyn MATCHES "STATIC_TLS")
  message(FATAL_ERROR "${LIB} is flagged STATIC_TLS (initial-exec TLS): dlopen may fail")
endif()
string(REGEX MATCHALL "[^\n]*TPOFF[^\n]*" tpoff "${rel}")
if(tpoff)
  message(FATAL_ERROR "${LIB} has initial-exec TLS relocations:\n${tpoff}")
endif()
message("${LIB}: no initial-exec TLS")
