package org.egeriahalab.platform;

import org.odpi.openmetadata.http.HttpHelper;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The lab's OMAG Server Platform launcher. Egeria's own launcher modules are not
 * published, so this class plays their part: it starts Spring Boot and lets component
 * scanning find the REST resources inside the published *-spring jars on the class path.
 */
@SpringBootApplication(scanBasePackages = {"org.odpi.openmetadata", "org.egeriahalab.platform"})
public class LabPlatform
{
    public LabPlatform(@Value("${strict.ssl:true}") boolean strictSSL)
    {
        // The lab's pods present self-signed certificates; the platform calls them back
        // over HTTPS (cohort members, the PTS calling the server under test).
        if (!strictSSL)
        {
            HttpHelper.noStrictSSL();
        }
    }

    public static void main(String[] args)
    {
        SpringApplication.run(LabPlatform.class, args);
    }
}
