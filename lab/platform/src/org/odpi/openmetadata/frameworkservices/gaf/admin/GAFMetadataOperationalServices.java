// Stands in for org.odpi.egeria:gaf-metadata-server, which Maven Central does not serve.
package org.odpi.openmetadata.frameworkservices.gaf.admin;

import org.odpi.openmetadata.frameworks.auditlog.AuditLog;
import org.odpi.openmetadata.repositoryservices.connectors.stores.metadatacollectionstore.repositoryconnector.OMRSRepositoryConnector;

/**
 * The admin services construct this class for every server with an enterprise repository
 * connector (the performance test suite's server, for one) and call shutdown() when that
 * server stops. The lab never calls the GAF metadata REST services, so this starts nothing.
 */
public class GAFMetadataOperationalServices
{
    public GAFMetadataOperationalServices(String serverName,
                                          OMRSRepositoryConnector repositoryConnector,
                                          AuditLog auditLog,
                                          String localServerUserId,
                                          int maxPageSize)
    {
    }

    public void shutdown()
    {
    }
}
