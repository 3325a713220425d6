// The lab's own connector for its --connector wiring test: NOT XTDB, and no code of the
// XTDB connector. It takes the provider's class name so that the configuration the lab
// generates finds it; it is Egeria's in-memory repository underneath; and it announces its
// start with the two audit codes the lab reads from a pod's log, naming itself, so that a
// test can follow --connector from the command line to the platform's class loader.
package org.odpi.egeria.connectors.juxt.xtdb.repositoryconnector;

import org.odpi.openmetadata.adapters.repositoryservices.inmemory.repositoryconnector.InMemoryOMRSRepositoryConnectorProvider;

public class XtdbOMRSRepositoryConnectorProvider extends InMemoryOMRSRepositoryConnectorProvider {
    public XtdbOMRSRepositoryConnectorProvider() {
        super();
        System.out.println("OMRS-XTDB-REPOSITORY-0001 (the lab's wiring-test connector) loaded from "
                + XtdbOMRSRepositoryConnectorProvider.class.getProtectionDomain().getCodeSource().getLocation());
        System.out.println("OMRS-XTDB-REPOSITORY-0004 (the lab's wiring-test connector) started, running XTDB version "
                + "none-wiring-test (Egeria's in-memory repository underneath)");
    }
}
