package org.egeriahalab.platform;

import org.odpi.openmetadata.conformance.rest.ProfileNameListResponse;
import org.odpi.openmetadata.conformance.rest.ProfileReportResponse;
import org.odpi.openmetadata.conformance.rest.TestCaseListReportResponse;
import org.odpi.openmetadata.conformance.rest.TestCaseListResponse;
import org.odpi.openmetadata.conformance.rest.TestCaseReportResponse;
import org.odpi.openmetadata.conformance.rest.TestLabReportResponse;
import org.odpi.openmetadata.conformance.rest.TestLabSummaryResponse;
import org.odpi.openmetadata.conformance.rest.WorkbenchReportResponse;
import org.odpi.openmetadata.conformance.rest.WorkbenchStatusResponse;
import org.odpi.openmetadata.conformance.server.ConformanceSuiteTestLabServices;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Status and report endpoints of the conformance suite. Egeria's module that serves them
 * is not published, so each method hands its path variables (already percent-decoded by
 * Spring) to the published ConformanceSuiteTestLabServices. Test-case ids hold '<' and '>'
 * and profile names hold spaces: Tomcat accepts them percent-encoded but refuses them raw
 * (HTTP 400), so callers must encode them.
 */
@RestController
@RequestMapping("/servers/{serverName}/open-metadata/conformance-suite/users/{userId}")
public class ConformanceSuiteResource
{
    private final ConformanceSuiteTestLabServices services = new ConformanceSuiteTestLabServices();

    @GetMapping("/status/workbenches/{workbenchId}")
    public WorkbenchStatusResponse getWorkbenchStatus(@PathVariable("serverName") String serverName,
                                                      @PathVariable("userId") String userId,
                                                      @PathVariable("workbenchId") String workbenchId)
    {
        return services.getWorkbenchStatus(userId, serverName, workbenchId);
    }

    @GetMapping("/report")
    public TestLabReportResponse getConformanceReport(@PathVariable("serverName") String serverName,
                                                      @PathVariable("userId") String userId)
    {
        return services.getConformanceReport(userId, serverName);
    }

    @GetMapping("/report/summary")
    public TestLabSummaryResponse getConformanceSummaryReport(@PathVariable("serverName") String serverName,
                                                              @PathVariable("userId") String userId)
    {
        return services.getConformanceSummaryReport(userId, serverName);
    }

    @GetMapping("/report/profiles")
    public ProfileNameListResponse getProfileNames(@PathVariable("serverName") String serverName,
                                                   @PathVariable("userId") String userId)
    {
        return services.getProfileNames(userId, serverName);
    }

    @GetMapping("/report/profiles/{profileName}")
    public ProfileReportResponse getProfileReport(@PathVariable("serverName") String serverName,
                                                  @PathVariable("userId") String userId,
                                                  @PathVariable("profileName") String profileName)
    {
        return services.getProfileReport(userId, serverName, profileName);
    }

    @GetMapping("/report/test-cases")
    public TestCaseListResponse getTestCaseIds(@PathVariable("serverName") String serverName,
                                               @PathVariable("userId") String userId)
    {
        return services.getTestCaseIds(userId, serverName);
    }

    @GetMapping("/report/test-cases/failed")
    public TestCaseListReportResponse getFailedTestCaseReport(@PathVariable("serverName") String serverName,
                                                              @PathVariable("userId") String userId)
    {
        return services.getFailedTestCaseReport(userId, serverName);
    }

    @GetMapping("/report/test-cases/{testCaseId}")
    public TestCaseReportResponse getTestCaseReport(@PathVariable("serverName") String serverName,
                                                    @PathVariable("userId") String userId,
                                                    @PathVariable("testCaseId") String testCaseId)
    {
        return services.getTestCaseReport(userId, serverName, testCaseId);
    }

    @GetMapping("/report/workbenches/{workbenchId}")
    public WorkbenchReportResponse getWorkbenchReport(@PathVariable("serverName") String serverName,
                                                      @PathVariable("userId") String userId,
                                                      @PathVariable("workbenchId") String workbenchId)
    {
        return services.getWorkbenchReport(userId, serverName, workbenchId);
    }
}
