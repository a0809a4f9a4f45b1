# The fault suite's apiserver and provider cases (issue 16): real loopback fakes under the
# whole application library, one executable labelled `faults`. Not under the sanitizer
# build, like the integration tests.
if(NOT BALLAST_SANITIZE)
  add_executable(faults_kube_test ${CMAKE_CURRENT_LIST_DIR}/kube_faults_test.cc
                 ${CMAKE_CURRENT_LIST_DIR}/provider_faults_test.cc $<TARGET_OBJECTS:ballast_catch_main>)
  target_link_libraries(faults_kube_test PRIVATE Catch2::Catch2 ballast_app_lib ballast_test_fakes
                        nlohmann_json::nlohmann_json)
  catch_discover_tests(faults_kube_test TEST_PREFIX "faults_kube_test:" PROPERTIES LABELS faults)
endif()
